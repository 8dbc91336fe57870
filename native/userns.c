// skiff-userns: the two things a user-namespaced pod needs that Node cannot
// do itself (src/host/userns.ts is its only caller).
//
//   skiff-userns pin UID_MAP GID_MAP HOSTNAME USER_PIN NET_PIN UTS_PIN IPC_PIN
//     Creates a user namespace with the given single-line maps ("inner outer
//     count"), then, inside it, the network, UTS and IPC namespaces whose pin
//     is not "-" (so they are owned by the pod's user namespace), sets the
//     hostname when a UTS namespace is made, and bind-mounts each namespace
//     onto its pin file (which must exist). setgroups stays allowed: container
//     processes set their supplementary groups.
//
//   skiff-userns idmap USER_PIN SRC DST
//     Mounts a recursive copy of SRC at DST, idmapped with the user namespace
//     pinned at USER_PIN (open_tree + mount_setattr(MOUNT_ATTR_IDMAP) +
//     move_mount), so that files owned by host ids appear as the pod's ids.
//
// Exit status 0 on success; otherwise 1 with one line on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what) {
  fprintf(stderr, "skiff-userns: %s: %s\n", what, strerror(errno));
  return 1;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = strlen(text);
  ssize_t n = write(fd, text, len);
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)len ? 0 : -1;
}

static int wanted(const char *pin) { return strcmp(pin, "-") != 0; }

static int pin(char **argv) {
  const char *uid_map = argv[0], *gid_map = argv[1], *hostname = argv[2];
  const char *user_pin = argv[3], *net_pin = argv[4], *uts_pin = argv[5], *ipc_pin = argv[6];
  int to_child[2], to_parent[2];
  if (pipe2(to_child, O_CLOEXEC) || pipe2(to_parent, O_CLOEXEC)) return fail("pipe");
  pid_t pid = fork();
  if (pid < 0) return fail("fork");
  if (pid == 0) {
    char c = 0;
    if (unshare(CLONE_NEWUSER)) _exit(10);
    if (write(to_parent[1], &c, 1) != 1) _exit(11);
    if (read(to_child[0], &c, 1) != 1) _exit(12); // the maps are written
    int flags = (wanted(net_pin) ? CLONE_NEWNET : 0) | (wanted(uts_pin) ? CLONE_NEWUTS : 0) | (wanted(ipc_pin) ? CLONE_NEWIPC : 0);
    if (flags && unshare(flags)) _exit(13);
    if (wanted(uts_pin) && hostname[0] && sethostname(hostname, strlen(hostname))) _exit(14);
    if (write(to_parent[1], &c, 1) != 1) _exit(15);
    (void)read(to_child[0], &c, 1); // held until the parent has pinned everything
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  char c = 0, path[64];
  int status = 1;
  if (read(to_parent[0], &c, 1) != 1) {
    errno = ECHILD;
    fail("creating the user namespace");
    goto out;
  }
  snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
  if (write_file(path, uid_map)) { fail("writing uid_map"); goto out; }
  snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
  if (write_file(path, gid_map)) { fail("writing gid_map"); goto out; }
  if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &c, 1) != 1) {
    errno = ECHILD;
    fail("creating the pod namespaces in the user namespace");
    goto out;
  }
  const char *kinds[4] = {"user", "net", "uts", "ipc"};
  const char *pins[4] = {user_pin, net_pin, uts_pin, ipc_pin};
  for (int i = 0; i < 4; i++) {
    if (!wanted(pins[i])) continue;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, kinds[i]);
    if (mount(path, pins[i], NULL, MS_BIND, NULL)) { fail(pins[i]); goto out; }
  }
  status = 0;
out:
  close(to_child[1]);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return status;
}

static int idmap(char **argv) {
  const char *user_pin = argv[0], *src = argv[1], *dst = argv[2];
  int userns = open(user_pin, O_RDONLY | O_CLOEXEC);
  if (userns < 0) return fail(user_pin);
  int tree = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) return fail("open_tree");
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long)userns};
  if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr)) return fail("mount_setattr");
  if (move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH)) return fail("move_mount");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 9 && strcmp(argv[1], "pin") == 0) return pin(argv + 2);
  if (argc == 5 && strcmp(argv[1], "idmap") == 0) return idmap(argv + 2);
  fprintf(stderr, "usage: skiff-userns pin UID_MAP GID_MAP HOSTNAME USER_PIN NET_PIN UTS_PIN IPC_PIN | idmap USER_PIN SRC DST\n");
  return 2;
}
