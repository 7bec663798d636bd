// A C echo guest (wasi-libc): accepts connections on fd 3 one at a time and
// echoes each until the peer closes. It wants blocking calls and clears
// O_NONBLOCK first, as it would on any inherited socket (under Keep a C
// module's sockets already start blocking: echo_blocking.c relies on it).
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int flags = fcntl(3, F_GETFL);
    if (flags < 0 || fcntl(3, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        perror("fcntl");
        return 1;
    }
    for (;;) {
        int c = accept(3, NULL, NULL);
        if (c < 0) {
            perror("accept");
            return 1;
        }
        char buf[4096];
        for (;;) {
            ssize_t n = recv(c, buf, sizeof buf, 0);
            if (n < 0) { perror("recv"); return 1; }
            if (n == 0) break;
            for (ssize_t off = 0; off < n;) {
                ssize_t m = send(c, buf + off, n - off, 0);
                if (m < 0) { perror("send"); return 1; }
                off += m;
            }
        }
        close(c);
    }
}
