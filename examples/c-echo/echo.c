/* A C TCP echo server for a keep (README recipe), built with Debian's
 * clang-14 and wasi-libc:
 *
 *   clang-14 --target=wasm32-wasi -O2 -o echo.wasm examples/c-echo/echo.c
 *   keep run --config examples/c-echo/Enarx.toml echo.wasm
 *
 * The listener is fd 3 (Enarx.toml). It serves one client at a time with
 * blocking calls, as written for Enarx: Keep hands a C guest its sockets in
 * blocking mode (README, "Sockets and attested TLS").
 */
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
