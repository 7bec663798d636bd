/* A C TCP echo server for a keep (README recipe), built with Debian's
 * clang-14 and wasi-libc:
 *
 *   clang-14 --target=wasm32-wasi -O2 -o echo.wasm examples/c-echo/echo.c
 *   keep run --config examples/c-echo/Enarx.toml echo.wasm
 *
 * The listener is fd 3 (Enarx.toml). It serves one client at a time with
 * blocking calls; it clears O_NONBLOCK first, as on any inherited socket
 * whose mode it does not know.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int flags = fcntl(3, F_GETFL);
    if (flags < 0 || fcntl(3, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        perror("fd 3");
        return 1;
    }
    for (;;) {
        int c = accept(3, NULL, NULL);
        if (c < 0) {
            perror("accept");
            return 1;
        }
        char buf[4096];
        ssize_t n;
        while ((n = recv(c, buf, sizeof buf, 0)) > 0) {
            for (ssize_t off = 0; off < n;) {
                ssize_t m = send(c, buf + off, n - off, 0);
                if (m < 0) {
                    perror("send");
                    return 1;
                }
                off += m;
            }
        }
        close(c);
    }
}
