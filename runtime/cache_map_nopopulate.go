//go:build unix && !linux

package runtime

// mapPopulate is Linux's MAP_POPULATE; elsewhere pages are mapped as read.
const mapPopulate = 0
