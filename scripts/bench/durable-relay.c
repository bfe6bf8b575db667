// durable-relay: the least a durable alert relay can do on this machine, to set beside
// Alertmanager's POST -> webhook time (scripts/bench/alertmanager-latency.py --server floor).
//
// One thread, no framework: for each POST on a kept-alive connection it reads the request,
// inserts the body into SQLite (WAL, synchronous=FULL, so the commit's fdatasync is done when
// sqlite3_step returns: the guarantee TeleOps gives before its 202), answers 200, then posts
// {"alerts": <body>} to the webhook on a kept-alive connection. No parsing, no routing, no
// queue, no thread hand-off: whatever TeleOps does beyond this is its own cost.
//
//   cc -O2 -o durable-relay durable-relay.c -lsqlite3
//   ./durable-relay LISTEN_PORT WEBHOOK_PORT DATABASE
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("connect to webhook");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t sent = write(fd, data, length);
        if (sent <= 0) die("write");
        data += sent;
        length -= (size_t)sent;
    }
}

// Reads one HTTP request or response with a Content-Length into buffer; returns the body's
// offset and sets *body_length, or -1 when the peer closed.
static long read_message(int fd, char *buffer, size_t capacity, long *body_length) {
    size_t used = 0;
    for (;;) {
        ssize_t got = read(fd, buffer + used, capacity - 1 - used);
        if (got <= 0) return -1;
        used += (size_t)got;
        buffer[used] = 0;
        char *end = strstr(buffer, "\r\n\r\n");
        if (!end) continue;
        char *length = strcasestr(buffer, "Content-Length:");
        long declared = length ? strtol(length + 15, NULL, 10) : 0;
        long start = end + 4 - buffer;
        while ((long)used < start + declared) {
            got = read(fd, buffer + used, capacity - 1 - used);
            if (got <= 0) return -1;
            used += (size_t)got;
        }
        *body_length = declared;
        return start;
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s LISTEN_PORT WEBHOOK_PORT DATABASE\n", argv[0]);
        return 2;
    }
    sqlite3 *db;
    if (sqlite3_open(argv[3], &db) != SQLITE_OK) die("sqlite3_open");
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, body TEXT NOT NULL)", 0, 0, 0);
    sqlite3_stmt *insert;
    if (sqlite3_prepare_v2(db, "INSERT INTO alerts (body) VALUES (?)", -1, &insert, 0) != SQLITE_OK) die("prepare");

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 16) != 0) die("listen");
    int webhook = connect_to(atoi(argv[2]));

    static char request[1 << 20], answer[1 << 16], out[(1 << 20) + 256];
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) die("accept");
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        long length;
        long body;
        while ((body = read_message(client, request, sizeof request, &length)) >= 0) {
            sqlite3_bind_text(insert, 1, request + body, (int)length, SQLITE_STATIC);
            if (sqlite3_step(insert) != SQLITE_DONE) die("insert");  // autocommit: durable on return
            sqlite3_reset(insert);
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
            send_all(client, ok, sizeof ok - 1);
            int header = snprintf(out, 256, "POST /hook HTTP/1.1\r\nHost: hook\r\nContent-Type: application/json\r\n"
                                            "Content-Length: %ld\r\n\r\n{\"alerts\":", length + 11);
            memcpy(out + header, request + body, (size_t)length);
            out[header + length] = '}';
            send_all(webhook, out, (size_t)header + (size_t)length + 1);
            long ignored;
            if (read_message(webhook, answer, sizeof answer, &ignored) < 0) die("webhook closed");
        }
        close(client);
    }
}
