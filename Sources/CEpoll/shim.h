#ifndef CEPOLL_SHIM_H
#define CEPOLL_SHIM_H
// Linux readiness, timer and wake-up APIs for the epoll engines of loadgen and the HTTP front (Glibc's Swift
// module does not export these headers, nor the GNU extensions below).
//
// Why two epoll loops and not one core both use: they share these calls and the idea of a generation-tagged event
// tag, and little else. The server's loop (HTTPFront `EpollServerLoop`) accepts an unknown number of connections
// (slots from a free list: `EpollSlotTable`), takes posts from other threads through a lock-free inbox and an
// eventfd, runs actor turns, pipelines and lingers; loadgen's (`LoadGenCore.EpollLoop`) has a fixed number of
// virtual clients whose slot outlives each connection (a slot keeps its pacing schedule across reconnects), a
// timerfd and a timer heap for rates and timeouts, and nothing from other threads. A common core would be the
// ~15 lines of tag arithmetic; what it would have to abstract over is the rest. Measured reason to keep loadgen on
// raw epoll at all: SwiftNIO's pipeline cost ~1 µs of CPU per request there, which a load generator that shares
// two cores with the server under test cannot spend.
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
extern int pthread_setname_np(pthread_t thread, const char *name);

/// accept4 without the peer address.
static inline int cepoll_accept(int fd, int flags) { return accept4(fd, 0, 0, flags); }

/// send(2) without SIGPIPE and without glibc's cancellation-point bookkeeping (the loops are never cancelled).
static inline long cepoll_send(int fd, const void *bytes, size_t count) {
    return syscall(SYS_sendto, fd, bytes, count, MSG_NOSIGNAL, (void *)0, 0);
}

/// recv(2) without glibc's cancellation-point bookkeeping.
static inline long cepoll_recv(int fd, void *bytes, size_t count) {
    return syscall(SYS_recvfrom, fd, bytes, count, 0, (void *)0, (void *)0);
}

/// Names the calling thread (at most 15 bytes are kept).
static inline void cepoll_set_thread_name(const char *name) { (void)pthread_setname_np(pthread_self(), name); }
#endif
