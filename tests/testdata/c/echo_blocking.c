// A C echo guest written for Enarx: it expects the listener at fd 3 to be
// blocking, as Enarx hands it over, and calls accept/read/write without
// touching its mode. It serves one connection at a time until the peer
// closes.
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    for (;;) {
        int c = accept(3, NULL, NULL);
        if (c < 0) {
            perror("accept");
            return 1;
        }
        char buf[4096];
        for (;;) {
            ssize_t n = read(c, buf, sizeof buf);
            if (n < 0) { perror("read"); return 1; }
            if (n == 0) break;
            for (ssize_t off = 0; off < n;) {
                ssize_t m = write(c, buf + off, n - off);
                if (m < 0) { perror("write"); return 1; }
                off += m;
            }
        }
        close(c);
    }
}
