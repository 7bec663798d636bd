package wasi

// WASI preview1 errno values ("errno" enum, WASI snapshot-01 witx).
const (
	errnoSuccess     = 0
	errnoAgain       = 6
	errnoBadf        = 8
	errnoConnreset   = 15
	errnoFault       = 21
	errnoInval       = 28
	errnoIo          = 29
	errnoIsdir       = 31
	errnoNametoolong = 37
	errnoNotconn     = 53
	errnoNotdir      = 54
	errnoNotsock     = 57
	errnoNotsup      = 58
	errnoPipe        = 64
	errnoRange       = 68
	errnoNotcapable  = 76
)

// WASI preview1 constants used by the socket layer.
const (
	filetypeDirectory    = 3 // "filetype" enum: directory
	filetypeSocketStream = 6 // "filetype" enum: socket_stream
	filetypeSymlink      = 7 // "filetype" enum: symbolic_link

	lookupflagSymlinkFollow = 1 << 0 // "lookupflags": symlink_follow

	fdflagNonblock = 1 << 2 // "fdflags": nonblock

	riflagRecvPeek    = 1 << 0 // "riflags": recv_peek
	riflagRecvWaitall = 1 << 1 // "riflags": recv_waitall

	sdflagRd = 1 << 0 // "sdflags": rd
	sdflagWr = 1 << 1 // "sdflags": wr

	eventtypeClock   = 0 // "eventtype": clock
	eventtypeFdRead  = 1 // "eventtype": fd_read
	eventtypeFdWrite = 2 // "eventtype": fd_write

	eventrwflagHangup = 1 << 0 // "eventrwflags": fd_readwrite_hangup

	subclockflagAbstime = 1 << 0 // "subclockflags": subscription_clock_abstime

	// Rights a socket fd reports in fd_fdstat_get ("rights" flags):
	// fd_read (1<<1), fd_fdstat_set_flags (1<<3), fd_write (1<<6),
	// fd_filestat_get (1<<21), poll_fd_readwrite (1<<27), sock_shutdown (1<<28),
	// sock_accept (1<<29).
	rightsSocket = 1<<1 | 1<<3 | 1<<6 | 1<<21 | 1<<27 | 1<<28 | 1<<29
)
