/*
 * udp-load: an open-loop UDP load generator for `npm run bench:collector` (src/bench/collector.ts).
 *
 *   udp-load FILE HOST PORT RATE SECONDS [SOCKETS [DRAIN_MS]]
 *
 * FILE holds N request datagrams of exactly 1232 bytes each, back to back (docs/protocol.md
 * [P-3-1]). They are sent round-robin to HOST:PORT (IPv4) at RATE datagrams per second for
 * SECONDS, over SOCKETS connected sockets (default 8, each its own source port, so a server that
 * spreads peers over workers by source port sees several). Request i is due at start + i / RATE:
 * send times follow the clock, never the answers (no coordinated omission), and a late send is
 * sent at once, its lateness counted against the latency. Bytes 4..11 of every datagram, the
 * 8-byte CoAP token ([P-3-4], [P-5-1]), are overwritten with the sequence number; an answer echoes
 * the token, so each answer is matched to its request. After the last send, answers are awaited
 * for DRAIN_MS (default 500); later or missing answers are lost.
 *
 * Prints one JSON object on stdout: counts, latency percentiles in µs from the *scheduled* send
 * time, the achieved send rate, bytes, and the generator's own CPU time (getrusage). Exits 1 with
 * a message on stderr on any failure of its own.
 *
 * Build: gcc -O2 -std=c99 -Wall -Wextra -o udp-load tools/udp-load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
  DATAGRAM_BYTES = 1232, /* IPv6 minimum MTU 1280 − 40 (IPv6) − 8 (UDP): every request's size */
  TOKEN_OFFSET = 4,      /* CoAP header (4 bytes), then the token */
  TOKEN_BYTES = 8,
  MAX_SOCKETS = 64,
  RECV_BATCH = 64,
  RECV_BUFFER_BYTES = 1500, /* larger than any answer (an answer is ≤ its request, [P-3-2]) */
  SOCKET_BUFFER_BYTES = 4 << 20,
};

static const uint64_t NS_PER_S = 1000000000ull;
/* A receive-time slot that no answer has filled yet. */
static const int64_t NOT_RECEIVED = -1;

static void fail(const char *what) {
  fprintf(stderr, "udp-load: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(const char *message) {
  fprintf(stderr, "udp-load: %s\nusage: udp-load FILE HOST PORT RATE SECONDS [SOCKETS [DRAIN_MS]]\n", message);
  exit(1);
}

static int64_t now_ns(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) fail("clock_gettime");
  return (int64_t)t.tv_sec * (int64_t)NS_PER_S + t.tv_nsec;
}

static double parse_number(const char *text, const char *name, double min, double max) {
  char *end = NULL;
  errno = 0;
  double value = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(value >= min && value <= max)) {
    fprintf(stderr, "udp-load: %s: expected a number in %g..%g, got \"%s\"\n", name, min, max, text);
    exit(1);
  }
  return value;
}

/* The whole file; its size must be a non-zero multiple of DATAGRAM_BYTES. */
static uint8_t *read_datagrams(const char *path, size_t *count) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) fail(path);
  struct stat info;
  if (fstat(fileno(file), &info) != 0) fail(path);
  size_t size = (size_t)info.st_size;
  if (size == 0 || size % DATAGRAM_BYTES != 0) {
    fprintf(stderr, "udp-load: %s: %zu bytes, expected a non-zero multiple of %d\n", path, size, DATAGRAM_BYTES);
    exit(1);
  }
  uint8_t *bytes = malloc(size);
  if (bytes == NULL) fail("malloc");
  if (fread(bytes, 1, size, file) != size) fail(path);
  fclose(file);
  *count = size / DATAGRAM_BYTES;
  return bytes;
}

static int open_socket(const struct sockaddr_in *target) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) fail("socket");
  int size = SOCKET_BUFFER_BYTES;
  /* Best effort: the kernel caps these at net.core.{r,w}mem_max. */
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (connect(fd, (const struct sockaddr *)target, sizeof *target) != 0) fail("connect");
  return fd;
}

static int compare_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a;
  int64_t y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values, in µs; 0 when there are none. */
static double percentile_us(const int64_t *sorted, size_t count, double fraction) {
  if (count == 0) return 0;
  size_t rank = (size_t)(fraction * (double)count + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > count) rank = count;
  return (double)sorted[rank - 1] / 1000.0;
}

static double seconds_of(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

int main(int argc, char **argv) {
  if (argc < 6 || argc > 8) usage("wrong number of arguments");
  size_t datagram_count = 0;
  uint8_t *datagrams = read_datagrams(argv[1], &datagram_count);
  struct sockaddr_in target = {.sin_family = AF_INET};
  if (inet_pton(AF_INET, argv[2], &target.sin_addr) != 1) usage("HOST: expected an IPv4 address");
  target.sin_port = htons((uint16_t)parse_number(argv[3], "PORT", 1, 65535));
  double rate = parse_number(argv[4], "RATE", 1, 10e6);
  double seconds = parse_number(argv[5], "SECONDS", 0.01, 3600);
  int socket_count = argc > 6 ? (int)parse_number(argv[6], "SOCKETS", 1, MAX_SOCKETS) : 8;
  int64_t drain_ns = (int64_t)(argc > 7 ? parse_number(argv[7], "DRAIN_MS", 0, 60000) : 500) * 1000000;

  uint64_t total = (uint64_t)(rate * seconds);
  if (total == 0) usage("RATE × SECONDS is below one datagram");
  int64_t *received_at = malloc(total * sizeof *received_at);
  if (received_at == NULL) fail("malloc");
  for (uint64_t i = 0; i < total; i++) received_at[i] = NOT_RECEIVED;

  struct pollfd fds[MAX_SOCKETS];
  for (int s = 0; s < socket_count; s++) fds[s] = (struct pollfd){.fd = open_socket(&target), .events = POLLIN};
  /* The default 50 µs timer slack would delay every timed wake-up by up to that much. */
  (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  static uint8_t buffers[RECV_BATCH][RECV_BUFFER_BYTES];
  struct iovec iovecs[RECV_BATCH];
  struct mmsghdr messages[RECV_BATCH];
  for (int i = 0; i < RECV_BATCH; i++) iovecs[i] = (struct iovec){.iov_base = buffers[i], .iov_len = RECV_BUFFER_BYTES};

  uint64_t sent = 0, send_errors = 0, received = 0, unexpected = 0, duplicates = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;
  int64_t max_send_lag_ns = 0;
  int64_t last_send_ns = 0;
  /* Integer schedule: request i is due at start + i·10⁹ / rate ns (i·10⁹ < 2⁶³ for any run here). */
  uint64_t period_numerator = NS_PER_S;
  uint64_t rate_denominator = (uint64_t)rate;
  if ((double)rate_denominator != rate) {
    /* A fractional rate: scale both by 1000 to keep three decimals. */
    period_numerator *= 1000;
    rate_denominator = (uint64_t)(rate * 1000);
  }
  int64_t start_ns = now_ns();
  int64_t end_ns = INT64_MAX;
  uint64_t next = 0;
  for (;;) {
    int64_t now = now_ns();
    while (next < total) {
      int64_t due = start_ns + (int64_t)(next * period_numerator / rate_denominator);
      if (due > now) break;
      uint8_t *datagram = datagrams + (next % datagram_count) * DATAGRAM_BYTES;
      uint64_t sequence = next;
      memcpy(datagram + TOKEN_OFFSET, &sequence, TOKEN_BYTES);
      ssize_t n = send(fds[next % (uint64_t)socket_count].fd, datagram, DATAGRAM_BYTES, 0);
      if (n == DATAGRAM_BYTES) {
        sent++;
        bytes_sent += DATAGRAM_BYTES;
      } else if (n < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED)) {
        /* Open loop: a datagram the kernel would not take is never retried; it counts as lost. */
        send_errors++;
      } else {
        fail("send");
      }
      if (now - due > max_send_lag_ns) max_send_lag_ns = now - due;
      last_send_ns = now;
      next++;
      now = now_ns();
    }
    if (next == total && end_ns == INT64_MAX) end_ns = now + drain_ns;
    if (now >= end_ns || (next == total && received + unexpected + duplicates >= sent)) break;

    int64_t wake = next < total ? start_ns + (int64_t)(next * period_numerator / rate_denominator) : end_ns;
    int64_t wait = wake > now ? wake - now : 0;
    struct timespec timeout = {.tv_sec = wait / (int64_t)NS_PER_S, .tv_nsec = wait % (int64_t)NS_PER_S};
    int ready = ppoll(fds, (nfds_t)socket_count, &timeout, NULL);
    if (ready < 0) {
      if (errno == EINTR) continue;
      fail("ppoll");
    }
    for (int s = 0; s < socket_count && ready > 0; s++) {
      if ((fds[s].revents & (POLLIN | POLLERR)) == 0) continue;
      for (;;) {
        for (int i = 0; i < RECV_BATCH; i++) messages[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iovecs[i], .msg_iovlen = 1}};
        int got = recvmmsg(fds[s].fd, messages, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (got < 0) {
          /* ECONNREFUSED: an ICMP port unreachable (no server yet, or it died): those are lost. */
          if (errno == EAGAIN || errno == ECONNREFUSED) break;
          if (errno == EINTR) continue;
          fail("recvmmsg");
        }
        int64_t at = now_ns();
        for (int i = 0; i < got; i++) {
          unsigned length = messages[i].msg_len;
          bytes_received += length;
          if (length < TOKEN_OFFSET + TOKEN_BYTES || (buffers[i][0] & 0x0f) != TOKEN_BYTES) {
            unexpected++;
            continue;
          }
          uint64_t sequence;
          memcpy(&sequence, buffers[i] + TOKEN_OFFSET, TOKEN_BYTES);
          if (sequence >= next) {
            unexpected++;
          } else if (received_at[sequence] != NOT_RECEIVED) {
            duplicates++;
          } else {
            received_at[sequence] = at;
            received++;
          }
        }
        if (got < RECV_BATCH) break;
      }
    }
  }
  int64_t finish_ns = now_ns();

  int64_t *latencies = malloc((received > 0 ? received : 1) * sizeof *latencies);
  if (latencies == NULL) fail("malloc");
  size_t counted = 0;
  for (uint64_t i = 0; i < total; i++) {
    if (received_at[i] == NOT_RECEIVED) continue;
    latencies[counted++] = received_at[i] - (start_ns + (int64_t)(i * period_numerator / rate_denominator));
  }
  qsort(latencies, counted, sizeof *latencies, compare_int64);
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) fail("getrusage");
  double user_s = seconds_of(usage.ru_utime);
  double system_s = seconds_of(usage.ru_stime);
  double wall_s = (double)(finish_ns - start_ns) / 1e9;
  double send_s = (double)(last_send_ns - start_ns) / 1e9;
  uint64_t lost = total - received;
  printf("{\"targetRate\":%.3f,\"seconds\":%.3f,\"sockets\":%d,\"datagrams\":%zu,"
         "\"scheduled\":%llu,\"sent\":%llu,\"sendErrors\":%llu,\"received\":%llu,\"lost\":%llu,"
         "\"lossFraction\":%.6f,\"unexpected\":%llu,\"duplicates\":%llu,"
         "\"latencyUs\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
         "\"sendRate\":%.1f,\"maxSendLagUs\":%.1f,\"bytesSent\":%llu,\"bytesReceived\":%llu,"
         "\"cpuUserSeconds\":%.3f,\"cpuSystemSeconds\":%.3f,\"wallSeconds\":%.3f,\"cpuShare\":%.4f}\n",
         rate, seconds, socket_count, datagram_count, (unsigned long long)total, (unsigned long long)sent,
         (unsigned long long)send_errors, (unsigned long long)received, (unsigned long long)lost,
         (double)lost / (double)total, (unsigned long long)unexpected, (unsigned long long)duplicates,
         percentile_us(latencies, counted, 0.50), percentile_us(latencies, counted, 0.90),
         percentile_us(latencies, counted, 0.99), percentile_us(latencies, counted, 1.0),
         send_s > 0 ? (double)sent / send_s : 0.0, (double)max_send_lag_ns / 1000.0,
         (unsigned long long)bytes_sent, (unsigned long long)bytes_received, user_s, system_s, wall_s,
         wall_s > 0 ? (user_s + system_s) / wall_s : 0.0);
  for (int s = 0; s < socket_count; s++) close(fds[s].fd);
  free(latencies);
  free(received_at);
  free(datagrams);
  return 0;
}
