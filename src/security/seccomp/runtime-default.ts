// Skiff's RuntimeDefault seccomp policy as data. In effect it is the policy
// Docker and containerd apply (the same syscalls allowed, the same argument
// and capability rules); build-seccomp.ts turns it into an OCI filter for
// one architecture and capability set. Everything not allowed fails EPERM.

const words = (text: string): string[] => text.trim().split(/\s+/);

/** Allowed for every container, grouped by what they are for. */
export const ALWAYS_ALLOWED: readonly string[] = [
  // files and directories
  ...words(`access chdir chmod chown chown32 close close_range copy_file_range creat faccessat faccessat2
    fadvise64 fadvise64_64 fallocate fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64
    fdatasync flock fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futimesat
    getcwd getdents getdents64 lchown lchown32 link linkat _llseek lseek lstat lstat64 mkdir mkdirat
    mknod mknodat name_to_handle_at newfstatat open openat openat2 readahead readlink readlinkat
    rename renameat renameat2 rmdir stat stat64 statfs statfs64 statx symlink symlinkat sync
    sync_file_range syncfs truncate truncate64 umask unlink unlinkat utime utimensat utimensat_time64 utimes`),
  // extended attributes
  ...words(`fgetxattr flistxattr fremovexattr fsetxattr getxattr lgetxattr listxattr llistxattr
    lremovexattr lsetxattr removexattr setxattr`),
  // reading, writing, polling and async i/o
  ...words(`dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
    epoll_wait epoll_wait_old eventfd eventfd2 fanotify_mark inotify_add_watch inotify_init inotify_init1
    inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup
    io_submit io_uring_enter io_uring_register io_uring_setup ioctl pipe pipe2 poll ppoll ppoll_time64
    pread64 preadv preadv2 pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readv select
    _newselect sendfile sendfile64 splice tee vmsplice write writev`),
  // sockets (socket itself has an argument rule)
  ...words(`accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom recvmmsg
    recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socketcall socketpair`),
  // memory
  ...words(`brk madvise membarrier memfd_create memfd_secret mincore mlock mlock2 mlockall mmap mmap2
    mprotect mremap msync munlock munlockall munmap pkey_alloc pkey_free pkey_mprotect remap_file_pages`),
  // processes, threads, credentials and scheduling
  ...words(`capget capset execve execveat exit exit_group fork getcpu getegid getegid32 geteuid geteuid32
    getgid getgid32 getgroups getgroups32 getpgid getpgrp getpid getppid getpriority getresgid
    getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid get_thread_area gettid
    getuid getuid32 ioprio_get ioprio_set kill pidfd_open pidfd_send_signal prctl prlimit64
    process_mrelease restart_syscall rseq sched_getaffinity sched_getattr sched_getparam
    sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
    sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
    sched_yield seccomp setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
    setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
    setreuid32 setrlimit set_robust_list setsid set_thread_area set_tid_address setuid setuid32 tgkill
    tkill ugetrlimit vfork wait4 waitid waitpid landlock_add_rule landlock_create_ruleset landlock_restrict_self`),
  // signals
  ...words(`pause rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
    rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sigaltstack signalfd signalfd4 sigprocmask sigreturn`),
  // time and timers (setting the clock needs CAP_SYS_TIME)
  ...words(`adjtimex alarm clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 getitimer gettimeofday nanosleep setitimer
    time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
    timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times`),
  // futexes and System V / POSIX IPC
  ...words(`futex futex_time64 futex_waitv ipc mq_getsetattr mq_notify mq_open mq_timedreceive
    mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink msgctl msgget msgrcv msgsnd
    semctl semget semop semtimedop semtimedop_time64 shmat shmctl shmdt shmget`),
  // system information
  ...words(`getrandom sysinfo uname`),
];

/** Allowed on kernels from 4.8, where seccomp can no longer be bypassed with ptrace. */
export const FROM_LINUX_4_8: readonly string[] = words('ptrace process_vm_readv process_vm_writev');

/** Allowed only on some architectures (names as in GOARCH / the OCI arch list). */
export const ARCH_ONLY: readonly { arches: readonly string[]; names: readonly string[] }[] = [
  { arches: ['amd64', 'x32'], names: ['arch_prctl'] },
  { arches: ['amd64', 'x32', 'x86'], names: ['modify_ldt'] },
  { arches: ['arm', 'arm64'], names: words('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls') },
];

/** Allowed when the container holds the capability. */
export const WITH_CAPABILITY: Readonly<Record<string, readonly string[]>> = {
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_ADMIN: words(`bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount
    mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname
    setns syslog umount umount2 unshare`),
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: words('delete_module init_module finit_module'),
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: words('kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'),
  CAP_SYS_RAWIO: words('iopl ioperm'),
  CAP_SYS_TIME: words('settimeofday stime clock_settime clock_settime64'),
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: words('get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

/** socket(2) is allowed for every address family but AF_VSOCK. */
export const AF_VSOCK = 40;

/** personality(2) values allowed: PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32, and the query 0xffffffff. */
export const PERSONALITIES: readonly number[] = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/**
 * Without CAP_SYS_ADMIN, clone(2) is allowed only when its flags hold none of
 * the namespace flags: NEWNS, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWCGROUP.
 */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x02000000;

/** clone3's flags are in memory a filter cannot read: without CAP_SYS_ADMIN it answers ENOSYS, so libcs fall back to clone. */
export const ENOSYS = 38;
export const EPERM = 1;
