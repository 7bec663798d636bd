// A C guest (wasi-libc) that answers one connection on fd 3 with send().
// Before each send it makes a host call whose fourth argument is a 64-bit
// value (fd_pwrite's offset, refused with ESPIPE on a socket): the
// compiled code passes host-call arguments in 8-byte slots and writes an
// i32 argument's low half only, so sock_send's si_flags (0) arrives with
// that value's high half in its high 32 bits. Keep must read it as an
// i32 (it answered ENOTSUP).
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wasi/api.h>

static __wasi_errno_t widen(int fd, __wasi_ciovec_t *iov, int i) {
    __wasi_size_t w;
    return __wasi_fd_pwrite(fd, iov, 1, 0xdeadbeef00000000ull + (uint64_t)i, &w);
}

int main(void) {
    int fl = fcntl(3, F_GETFL);
    if (fl < 0 || fcntl(3, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        perror("fcntl");
        return 1;
    }
    int c = accept(3, NULL, NULL);
    if (c < 0) {
        perror("accept");
        return 1;
    }
    char buf[256];
    ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n <= 0) {
        perror("recv");
        return 1;
    }
    __wasi_ciovec_t iov = {(const uint8_t *)buf, (size_t)n};
    for (int i = 0; i < 50; i++) {
        __wasi_size_t w;
        (void)widen(c, &iov, i);
        __wasi_errno_t e = __wasi_sock_send(c, &iov, 1, 0, &w);
        if (e != 0 || w != (__wasi_size_t)n) {
            fprintf(stderr, "sock_send: errno %d\n", e);
            return 1;
        }
        (void)widen(c, &iov, i);
        if (send(c, buf, (size_t)n, 0) != n) {
            perror("send");
            return 1;
        }
    }
    close(c);
    return 0;
}
