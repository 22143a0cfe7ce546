/*
 * A minimal C epoll echo client: the yardstick for `reverb bench`'s own efficiency.
 *
 * N connections, each sends one SIZE-byte message, waits for all SIZE bytes to come back,
 * and sends the next (closed loop, pipeline 1), for SECONDS seconds. It does the least a
 * client can do: no verification, no latency histogram, no timeouts. It prints round trips
 * and the CPU time it used, so round trips per CPU-second compare directly with the
 * "round trips per CPU-second" line of `reverb bench`.
 *
 * Build: gcc -O2 -o epoll_client epoll_client.c
 * Run:   ./epoll_client 127.0.0.1 7007 50 64 10
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn { int fd; size_t got; };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT CONNECTIONS SIZE SECONDS\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]), n = atoi(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    double seconds = atof(argv[5]);
    char *msg = malloc(size), *buf = malloc(65536);
    memset(msg, 'x', size);
    msg[size - 1] = '\n';

    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, host, &sa.sin_addr);
    int ep = epoll_create1(0);
    struct conn *conns = calloc(n, sizeof *conns);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("connect"); return 1; }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[i].fd = fd;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        if (write(fd, msg, size) != (ssize_t)size) { perror("write"); return 1; }
    }

    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double start = now(), end = start + seconds;
    unsigned long long trips = 0;
    struct epoll_event events[256];
    while (now() < end) {
        int k = epoll_wait(ep, events, 256, 100);
        for (int e = 0; e < k; e++) {
            struct conn *c = events[e].data.ptr;
            ssize_t got = read(c->fd, buf, 65536);
            if (got <= 0) { fprintf(stderr, "server closed or failed\n"); return 1; }
            c->got += (size_t)got;
            if (c->got >= size) {
                c->got -= size;
                trips++;
                if (write(c->fd, msg, size) != (ssize_t)size) { perror("write"); return 1; }
            }
        }
    }
    getrusage(RUSAGE_SELF, &r1);
    double wall = now() - start;
    double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec)
        + ((r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec)) / 1e6;
    printf("c epoll client: %llu round trips in %.2f s (%.0f/s), cpu %.2f s: %.0f round trips per CPU-second\n",
           trips, wall, trips / wall, cpu, trips / cpu);
    return 0;
}
