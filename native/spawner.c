/*
 * skiff-spawner: starts processes on behalf of the Skiff daemon.
 *
 * Why: Node forks the whole daemon for every child (libuv uses fork()), which
 * blocks its event loop for 5-15 ms depending on its size. This process is a
 * few hundred KB, so a fork here costs well under a millisecond, and the
 * daemon's loop never stops. It does nothing but start programs and relay
 * their pipes: no policy, no shell.
 *
 * Protocol on stdin/stdout, little-endian frames:
 *   u32 length (of what follows) | u8 type | u32 child id | payload
 * daemon -> spawner
 *   'S' spawn: u32 flags (1 = new session), u8 nfds, nfds modes (0 /dev/null,
 *       1 pipe, 2 inherit), cwd\0 (empty: ours), file\0, u32 argc, argv\0...,
 *       u32 envc, env\0...
 *   'W' write: u8 fd, bytes (to the child's input pipe on that fd)
 *   'C' close: u8 fd (our end of that pipe: EOF for an input, stop reading an output)
 * spawner -> daemon
 *   'P' started: u32 pid          'F' failed: u32 errno
 *   'D' data: u8 fd, bytes        'E' end of an output: u8 fd
 *   'X' exited: i32 code (-1 if signalled), i32 signal
 * EOF on stdin ends the spawner; its children keep running.
 * `skiff-spawner --check` prints "skiff-spawner 1" and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FDS 8
#define CHECK_REPLY "skiff-spawner 1"
#define MAX_CHILDREN 1024

struct pending {
    char *buf;
    size_t len;
    size_t off;
    struct pending *next;
};

struct child {
    int used;
    uint32_t id;
    pid_t pid;
    int fds[MAX_FDS];      /* our end, -1 if none */
    int is_input[MAX_FDS]; /* 1: we write to it */
    int close_after;       /* per fd bitmask: close once the queue drains */
    struct pending *queue[MAX_FDS];
};

static struct child children[MAX_CHILDREN];
static int sigchld_pipe[2];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd pf = {fd, POLLOUT, 0};
                poll(&pf, 1, -1);
                continue;
            }
            exit(0); /* the daemon is gone */
        }
        c += w;
        n -= (size_t)w;
    }
}

static void send_frame(char type, uint32_t id, const void *a, size_t alen, const void *b, size_t blen) {
    unsigned char head[9];
    uint32_t len = (uint32_t)(1 + 4 + alen + blen);
    memcpy(head, &len, 4);
    head[4] = (unsigned char)type;
    memcpy(head + 5, &id, 4);
    write_all(1, head, 9);
    if (alen) write_all(1, a, alen);
    if (blen) write_all(1, b, blen);
}

static struct child *find(uint32_t id) {
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i].used && children[i].id == id) return &children[i];
    return NULL;
}

static void free_queue(struct child *c, int fd) {
    struct pending *p = c->queue[fd];
    while (p) {
        struct pending *n = p->next;
        free(p->buf);
        free(p);
        p = n;
    }
    c->queue[fd] = NULL;
}

static void close_fd(struct child *c, int fd) {
    if (c->fds[fd] >= 0) close(c->fds[fd]);
    c->fds[fd] = -1;
    free_queue(c, fd);
    c->close_after &= ~(1 << fd);
}

static void maybe_release(struct child *c) {
    if (c->pid != 0) return;
    for (int i = 0; i < MAX_FDS; i++)
        if (c->fds[i] >= 0) return;
    c->used = 0;
}

static void on_sigchld(int sig) {
    (void)sig;
    int e = errno;
    ssize_t r = write(sigchld_pipe[1], "x", 1);
    (void)r;
    errno = e;
}

struct reader {
    const unsigned char *p;
    size_t left;
    int bad;
};

static uint32_t rd_u32(struct reader *r) {
    uint32_t v = 0;
    if (r->left < 4) { r->bad = 1; return 0; }
    memcpy(&v, r->p, 4);
    r->p += 4;
    r->left -= 4;
    return v;
}

static unsigned rd_u8(struct reader *r) {
    if (r->left < 1) { r->bad = 1; return 0; }
    unsigned v = r->p[0];
    r->p++;
    r->left--;
    return v;
}

static char *rd_str(struct reader *r) {
    const unsigned char *end = memchr(r->p, 0, r->left);
    if (!end) { r->bad = 1; return NULL; }
    char *s = (char *)r->p;
    size_t n = (size_t)(end - r->p) + 1;
    r->p += n;
    r->left -= n;
    return s;
}

static void do_spawn(uint32_t id, struct reader *r) {
    uint32_t flags = rd_u32(r);
    unsigned nfds = rd_u8(r);
    int modes[MAX_FDS];
    if (nfds > MAX_FDS) r->bad = 1;
    for (unsigned i = 0; i < nfds && !r->bad; i++) modes[i] = (int)rd_u8(r);
    char *cwd = rd_str(r);
    char *file = rd_str(r);
    uint32_t argc = rd_u32(r);
    if (argc > 65536) r->bad = 1;
    char **argv = r->bad ? NULL : calloc(argc + 1, sizeof(char *));
    for (uint32_t i = 0; i < argc && !r->bad; i++) argv[i] = rd_str(r);
    uint32_t envc = rd_u32(r);
    if (envc > 65536) r->bad = 1;
    char **envp = r->bad ? NULL : calloc(envc + 1, sizeof(char *));
    for (uint32_t i = 0; i < envc && !r->bad; i++) envp[i] = rd_str(r);
    struct child *c = NULL;
    for (int i = 0; i < MAX_CHILDREN && !c; i++)
        if (!children[i].used) c = &children[i];
    if (r->bad || !c) {
        uint32_t err = r->bad ? EINVAL : EAGAIN;
        send_frame('F', id, &err, 4, NULL, 0);
        free(argv);
        free(envp);
        return;
    }

    int child_end[MAX_FDS];
    int ours[MAX_FDS];
    int ok = 1;
    for (int i = 0; i < MAX_FDS; i++) child_end[i] = ours[i] = -1;
    for (unsigned i = 0; i < nfds && ok; i++) {
        if (modes[i] == 1) {
            int p[2];
            if (pipe2(p, O_CLOEXEC) < 0) { ok = 0; break; }
            if (i == 0) { child_end[i] = p[0]; ours[i] = p[1]; }
            else { child_end[i] = p[1]; ours[i] = p[0]; }
        } else if (modes[i] == 0) {
            child_end[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (child_end[i] < 0) ok = 0;
        }
    }
    int errpipe[2] = {-1, -1};
    if (ok && pipe2(errpipe, O_CLOEXEC) < 0) ok = 0;
    pid_t pid = -1;
    if (ok) pid = fork();
    if (pid == 0) {
        /* The child: default signals, its fds in place, then exec. */
        sigset_t all;
        sigemptyset(&all);
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        sigprocmask(SIG_SETMASK, &all, NULL);
        if (flags & 1) setsid();
        /* Move every source above the target range first, so dup2 cannot clobber one. */
        for (unsigned i = 0; i < nfds; i++)
            if (child_end[i] >= 0 && child_end[i] < (int)nfds) {
                int moved = fcntl(child_end[i], F_DUPFD_CLOEXEC, (int)nfds);
                if (moved < 0) goto fail;
                child_end[i] = moved;
            }
        for (unsigned i = 0; i < nfds; i++) {
            if (child_end[i] >= 0) {
                if (dup2(child_end[i], (int)i) < 0) goto fail;
            } else if (modes[i] != 2) {
                close((int)i);
            }
        }
        if (*cwd && chdir(cwd) < 0) goto fail;
        execvpe(file, argv, envp);
    fail:;
        int e = errno;
        ssize_t w = write(errpipe[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    int spawn_errno = 0;
    if (pid < 0) spawn_errno = ok ? errno : EMFILE;
    for (int i = 0; i < MAX_FDS; i++)
        if (child_end[i] >= 0) close(child_end[i]);
    if (errpipe[1] >= 0) close(errpipe[1]);
    if (pid > 0) {
        int e = 0;
        ssize_t n;
        do n = read(errpipe[0], &e, sizeof e); while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof e) {
            spawn_errno = e;
            waitpid(pid, NULL, 0);
        }
    }
    if (errpipe[0] >= 0) close(errpipe[0]);
    free(argv);
    free(envp);
    if (spawn_errno) {
        for (int i = 0; i < MAX_FDS; i++)
            if (ours[i] >= 0) close(ours[i]);
        uint32_t err = (uint32_t)spawn_errno;
        send_frame('F', id, &err, 4, NULL, 0);
        return;
    }
    memset(c, 0, sizeof *c);
    c->used = 1;
    c->id = id;
    c->pid = pid;
    for (int i = 0; i < MAX_FDS; i++) {
        c->fds[i] = ours[i];
        c->is_input[i] = (i == 0);
        if (ours[i] >= 0) fcntl(ours[i], F_SETFL, fcntl(ours[i], F_GETFL) | O_NONBLOCK);
    }
    uint32_t upid = (uint32_t)pid;
    send_frame('P', id, &upid, 4, NULL, 0);
}

static void flush_input(struct child *c, int fd) {
    while (c->queue[fd]) {
        struct pending *p = c->queue[fd];
        ssize_t w = write(c->fds[fd], p->buf + p->off, p->len - p->off);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            close_fd(c, fd); /* EPIPE: the child stopped reading */
            maybe_release(c);
            return;
        }
        p->off += (size_t)w;
        if (p->off < p->len) continue;
        c->queue[fd] = p->next;
        free(p->buf);
        free(p);
    }
    if (c->close_after & (1 << fd)) {
        close_fd(c, fd);
        maybe_release(c);
    }
}

static void handle_request(const unsigned char *frame, size_t len) {
    if (len < 5) return;
    char type = (char)frame[0];
    uint32_t id;
    memcpy(&id, frame + 1, 4);
    struct reader r = {frame + 5, len - 5, 0};
    if (type == 'S') {
        do_spawn(id, &r);
        return;
    }
    struct child *c = find(id);
    unsigned fd = rd_u8(&r);
    if (!c || r.bad || fd >= MAX_FDS || c->fds[fd] < 0) return;
    if (type == 'W' && c->is_input[fd]) {
        struct pending *p = calloc(1, sizeof *p);
        p->len = r.left;
        p->buf = malloc(r.left ? r.left : 1);
        memcpy(p->buf, r.p, r.left);
        struct pending **tail = &c->queue[fd];
        while (*tail) tail = &(*tail)->next;
        *tail = p;
        flush_input(c, (int)fd);
    } else if (type == 'C') {
        if (c->is_input[fd] && c->queue[fd]) {
            c->close_after |= 1 << fd;
        } else {
            close_fd(c, (int)fd);
            maybe_release(c);
        }
    }
}

static void reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        for (int i = 0; i < MAX_CHILDREN; i++) {
            struct child *c = &children[i];
            if (!c->used || c->pid != pid) continue;
            int32_t v[2] = {-1, 0};
            if (WIFEXITED(status)) v[0] = WEXITSTATUS(status);
            else if (WIFSIGNALED(status)) v[1] = WTERMSIG(status);
            send_frame('X', c->id, v, 8, NULL, 0);
            c->pid = 0;
            maybe_release(c);
            break;
        }
    }
}

int main(int argc, char **argv) {
    /* Lets the daemon tell this program from anything else at the configured path. */
    if (argc > 1 && strcmp(argv[1], "--check") == 0) {
        puts(CHECK_REPLY);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) die("pipe");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    fcntl(0, F_SETFD, FD_CLOEXEC);
    fcntl(1, F_SETFD, FD_CLOEXEC);

    size_t cap = 1 << 16, have = 0;
    unsigned char *in = malloc(cap);
    static struct pollfd pfds[2 + MAX_CHILDREN * MAX_FDS];
    static struct child *owner[2 + MAX_CHILDREN * MAX_FDS];
    static int ownerfd[2 + MAX_CHILDREN * MAX_FDS];
    static unsigned char buf[1 << 16];

    for (;;) {
        int n = 0;
        pfds[n++] = (struct pollfd){0, POLLIN, 0};
        pfds[n++] = (struct pollfd){sigchld_pipe[0], POLLIN, 0};
        for (int i = 0; i < MAX_CHILDREN; i++) {
            struct child *c = &children[i];
            if (!c->used) continue;
            for (int f = 0; f < MAX_FDS; f++) {
                if (c->fds[f] < 0) continue;
                if (c->is_input[f] && !c->queue[f]) continue;
                pfds[n] = (struct pollfd){c->fds[f], (short)(c->is_input[f] ? POLLOUT : POLLIN), 0};
                owner[n] = c;
                ownerfd[n] = f;
                n++;
            }
        }
        if (poll(pfds, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (pfds[1].revents) {
            char drain[64];
            while (read(sigchld_pipe[0], drain, sizeof drain) > 0) {}
            reap();
        }
        for (int i = 2; i < n; i++) {
            if (!pfds[i].revents) continue;
            struct child *c = owner[i];
            int f = ownerfd[i];
            if (!c->used || c->fds[f] != pfds[i].fd) continue;
            if (c->is_input[f]) {
                if (pfds[i].revents & (POLLERR | POLLHUP)) {
                    close_fd(c, f);
                    maybe_release(c);
                } else {
                    flush_input(c, f);
                }
                continue;
            }
            ssize_t got = read(c->fds[f], buf, sizeof buf);
            if (got > 0) {
                unsigned char fdb = (unsigned char)f;
                send_frame('D', c->id, &fdb, 1, buf, (size_t)got);
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                unsigned char fdb = (unsigned char)f;
                close_fd(c, f);
                send_frame('E', c->id, &fdb, 1, NULL, 0);
                maybe_release(c);
            }
        }
        if (pfds[0].revents) {
            if (have == cap) {
                cap *= 2;
                in = realloc(in, cap);
            }
            ssize_t got = read(0, in + have, cap - have);
            if (got == 0) return 0;
            if (got < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                return 0;
            }
            have += (size_t)got;
            size_t off = 0;
            while (have - off >= 4) {
                uint32_t len;
                memcpy(&len, in + off, 4);
                if (have - off - 4 < len) {
                    if (len + 4 > cap) {
                        cap = len + 4 + (1 << 16);
                        unsigned char *bigger = malloc(cap);
                        memcpy(bigger, in + off, have - off);
                        free(in);
                        in = bigger;
                        have -= off;
                        off = 0;
                    }
                    break;
                }
                handle_request(in + off + 4, len);
                off += 4 + len;
            }
            memmove(in, in + off, have - off);
            have -= off;
        }
    }
}
