/*
 * A minimal C epoll echo server: the yardstick reverb's CPU and syscalls per round trip
 * are compared with in BENCHMARKS.md.
 *
 * One thread, level-triggered epoll, one read per readiness (64 KiB buffer), the bytes
 * written straight back; what the socket does not take waits in a per-connection buffer
 * with EPOLLOUT until it drains, and reading pauses meanwhile. It does the least an echo
 * server can do and still be correct under backpressure: no framing, no timers, no limits.
 *
 * Build: gcc -O2 -o epoll_echo epoll_echo.c
 * Run:   ./epoll_echo 127.0.0.1 7101
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (64 * 1024)
#define MAX_FDS 65536

struct conn { char *pending; size_t len, off; };
static struct conn conns[MAX_FDS];

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void drop_conn(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd].pending);
    memset(&conns[fd], 0, sizeof conns[fd]);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s HOST PORT\n", argv[0]); return 2; }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) { perror("listen"); return 1; }
    nonblock(ls);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls }, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static char buf[BUF];
    printf("listening on %s:%s\n", argv[1], argv[2]);
    fflush(stdout);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept(ls, NULL, NULL)) >= 0) {
                    if (c >= MAX_FDS) { close(c); continue; }
                    nonblock(c);
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            struct conn *cn = &conns[fd];
            if (evs[i].events & EPOLLOUT) {
                ssize_t w = write(fd, cn->pending + cn->off, cn->len - cn->off);
                if (w < 0 && errno != EAGAIN) { drop_conn(ep, fd); continue; }
                if (w > 0) cn->off += (size_t)w;
                if (cn->off == cn->len) {
                    cn->len = cn->off = 0;
                    struct epoll_event ce = { .events = EPOLLIN, .data.fd = fd };
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
                }
                continue;
            }
            ssize_t r = read(fd, buf, BUF);
            if (r == 0 || (r < 0 && errno != EAGAIN)) { drop_conn(ep, fd); continue; }
            if (r < 0) continue;
            ssize_t w = write(fd, buf, (size_t)r);
            if (w < 0 && errno != EAGAIN) { drop_conn(ep, fd); continue; }
            if (w < 0) w = 0;
            if (w < r) {
                /* The socket is full: keep the rest, stop reading until it drains. */
                cn->pending = realloc(cn->pending, (size_t)(r - w));
                memcpy(cn->pending, buf + w, (size_t)(r - w));
                cn->len = (size_t)(r - w);
                cn->off = 0;
                struct epoll_event ce = { .events = EPOLLOUT, .data.fd = fd };
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
            }
        }
    }
}
