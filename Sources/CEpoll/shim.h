#ifndef CEPOLL_SHIM_H
#define CEPOLL_SHIM_H
// Linux readiness, timer and wake-up APIs for the epoll engines of loadgen and the HTTP front (Glibc's Swift
// module does not export these headers, nor the GNU extensions below).
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
extern int pthread_setname_np(pthread_t thread, const char *name);

/// accept4 without the peer address.
static inline int cepoll_accept(int fd, int flags) { return accept4(fd, 0, 0, flags); }

/// Names the calling thread (at most 15 bytes are kept).
static inline void cepoll_set_thread_name(const char *name) { (void)pthread_setname_np(pthread_self(), name); }
#endif
