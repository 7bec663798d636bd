// A C++ guest written for Enarx: it takes the listener at fd 3 as Enarx
// hands it over (blocking) and serves one connection at a time, answering
// each line with its length and the line reversed, using libc++ (strings,
// vectors, algorithms, exceptions off) over blocking accept/recv/send.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace {

bool send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = send(fd, s.data() + off, s.size() - off, 0);
        if (n < 0) {
            std::perror("send");
            return false;
        }
        off += static_cast<size_t>(n);
    }
    return true;
}

std::string answer(std::string line) {
    std::string out = std::to_string(line.size()) + " ";
    std::reverse(line.begin(), line.end());
    return out + line + "\n";
}

}  // namespace

int main() {
    for (;;) {
        int c = accept(3, nullptr, nullptr);
        if (c < 0) {
            std::perror("accept");
            return 1;
        }
        std::string pending;
        std::vector<char> buf(4096);
        for (;;) {
            ssize_t n = recv(c, buf.data(), buf.size(), 0);
            if (n < 0) {
                std::perror("recv");
                return 1;
            }
            if (n == 0) break;
            pending.append(buf.data(), static_cast<size_t>(n));
            for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
                if (!send_all(c, answer(pending.substr(0, nl)))) return 1;
                pending.erase(0, nl + 1);
            }
        }
        close(c);
    }
}
