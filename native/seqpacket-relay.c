/*
 * skiff-seqpacket-relay SOCKET
 *
 * Bridges a SOCK_SEQPACKET unix socket (conmon's attach socket) to stdio,
 * because Node's net module only speaks SOCK_STREAM:
 *   - once connected it writes an empty frame (four zero bytes);
 *   - every packet read from the socket is written to stdout as a 4-byte
 *     big-endian length followed by the packet, so packet boundaries (and
 *     conmon's leading pipe-id byte) survive the pipe;
 *   - bytes read from stdin are sent as packets of at most 8 KiB (conmon
 *     truncates longer ones);
 *   - stdin's end shuts down the socket's write side (conmon then closes the
 *     container's stdin unless it was told to leave it open);
 *   - the relay exits when the socket ends (0) or fails (1).
 * A socket path longer than sun_path is reached through /proc/self/fd of its
 * directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define IN_CHUNK 8192
#define PACKET_MAX (64 * 1024)

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int connect_seqpacket(const char *path) {
  int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  char *copy = NULL;
  int dirfd = -1;
  if (strlen(path) < sizeof addr.sun_path) {
    strcpy(addr.sun_path, path);
  } else {
    copy = strdup(path);
    char *dir = strdup(path);
    if (!copy || !dir) return -1;
    dirfd = open(dirname(dir), O_PATH | O_CLOEXEC);
    free(dir);
    if (dirfd < 0) return -1;
    int n = snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dirfd, basename(copy));
    if (n < 0 || (size_t)n >= sizeof addr.sun_path) {
      errno = ENAMETOOLONG;
      return -1;
    }
  }
  int rc;
  do rc = connect(sock, (struct sockaddr *)&addr, sizeof addr);
  while (rc < 0 && errno == EINTR);
  int saved = errno;
  if (dirfd >= 0) close(dirfd);
  free(copy);
  errno = saved;
  return rc < 0 ? -1 : sock;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int sock = connect_seqpacket(argv[1]);
  if (sock < 0) {
    fprintf(stderr, "connect %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  static const char connected[4] = {0, 0, 0, 0};
  if (write_all(1, connected, sizeof connected) < 0) return 1;
  static char packet[4 + PACKET_MAX];
  static char in[IN_CHUNK];
  int stdin_open = 1;
  for (;;) {
    struct pollfd fds[2] = {{.fd = sock, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    int rc = poll(fds, stdin_open ? 2 : 1, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      return 1;
    }
    if (fds[0].revents) {
      ssize_t n = recv(sock, packet + 4, PACKET_MAX, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        perror("recv");
        return 1;
      }
      if (n == 0) return 0;
      uint32_t len = (uint32_t)n;
      packet[0] = (char)(len >> 24);
      packet[1] = (char)(len >> 16);
      packet[2] = (char)(len >> 8);
      packet[3] = (char)len;
      if (write_all(1, packet, 4 + (size_t)n) < 0) return 1; /* the reader is gone */
    }
    if (stdin_open && fds[1].revents) {
      ssize_t n = read(0, in, sizeof in);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        stdin_open = 0;
        shutdown(sock, SHUT_WR);
        continue;
      }
      ssize_t sent;
      do sent = send(sock, in, (size_t)n, 0);
      while (sent < 0 && errno == EINTR);
      if (sent < 0) {
        /* The container's stdin is closed: keep relaying output. */
        stdin_open = 0;
      }
    }
  }
}
