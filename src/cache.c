/*
 * cache.c — sparkgen.cache: a content-addressed store for model answers. An in-process
 * LRU sits in front of an on-disk directory that several processes may share. Callers
 * compute keys (sha256 of the canonical request, via sparkgen.sys.sha256); this file
 * holds no policy about what is cached.
 *
 * @function open{dir=, max_entries=10000, max_bytes=256 MiB, lru_entries=256}
 *           → store (userdata "sparkgen.cache.store", with __gc and __close), or
 *             nil, message when the directory cannot be created
 * @method get(key)            → value, {created=, expires=, from="memory"|"disk"} on a
 *                               hit (times in epoch seconds; `expires` absent when the
 *                               entry never expires); nil on a miss; nil, message on an
 *                               I/O error other than "not there"
 * @method put(key, value, ttl_s)  → true, or nil, message (ttl_s nil or <= 0: forever)
 * @method delete(key)         → true if an entry was removed, else false
 * @method stats()             → {entries=, bytes=, corrupt=, memory_entries=, hits=,
 *                                misses=, dir=, max_entries=, max_bytes=}: scans and
 *                                verifies every entry (header, size, checksum); bytes are
 *                                file sizes (headers included), as max_bytes counts them;
 *                                corrupt counts damaged entries (prune removes them);
 *                                hits and misses are every process's since the last
 *                                clear (see the tally file below)
 * @method clear()             → number of entries removed (the tally starts again at 0)
 * @method prune()             → {expired=, evicted=, corrupt=}: drops expired and corrupt
 *                               entries (anything under an entry's name that is not a
 *                               valid entry: a FIFO, a link, a bad checksum), then evicts
 *                               to the bounds
 * @function reset_tally(dir)  the tally of dir starts again at zero
 * @function tally(dir[, hits, misses]) → {hits=, misses=}: adds to the tally file of
 *                               dir (created on first use) and returns its totals; with
 *                               no counts it only reads. For caches kept by Lua code
 *                               (schema snapshots), so every kind counts the same way.
 * @method close()             frees the memory layer; later use raises
 * Keys are 64 lowercase hex characters; anything else raises (a caller's bug).
 * @example
 *   local store <close> = cache.open{dir = cfg.cache_dir}
 *   local key = sys.sha256(canonical_request)
 *   local hit = store:get(key) or (function() local v = call(); store:put(key, v, 86400); return v end)()
 *
 * On disk: DIR/xx/<the other 62 hex chars>, where xx are the key's first two characters.
 * An entry is a 64-byte header followed by the value; integers are little-endian:
 *    0  8  magic "SGCACHE\0"
 *    8  4  format version (1)
 *   12  4  header size (64)
 *   16  8  created, ms since the epoch
 *   24  8  expires, ms since the epoch (0 = never)
 *   32  8  value length (the file is exactly header + value long)
 *   40  8  checksum: 64-bit FNV-1a over header bytes 0..39 and 48..63, then the value
 *   48 16  the key's first 16 bytes (raw), so a file under the wrong name is rejected
 * Entries are written to DIR/xx/.tmp-* and renamed into place, so readers never see a
 * partial entry; anything that fails these checks (a crash, a disk error, a hand edit)
 * is deleted and counted as a miss. A hit sets the file's mtime: the disk LRU order.
 *
 * Tally: DIR/tally holds the hits and misses of every process that used DIR since the
 * last clear: 32 bytes, "SGTALLY\0", hits, misses, FNV-1a of the first 24 bytes. A handle
 * counts in memory and adds its counts at close (or __gc) under flock(LOCK_EX), a
 * read-modify-write of one block, so concurrent processes never lose or mangle each
 * other's counts; a damaged tally reads as zero and is rewritten. A process killed
 * before closing its handle loses only its own counts.
 *
 * Reads never block or trust the file system: entries are opened O_NONBLOCK|O_NOFOLLOW
 * and must be regular files no larger than max_bytes before a buffer is allocated.
 *
 * Bounds: put keeps an estimate of the directory's entries and bytes (one scan on the
 * first put, then its own additions); when the estimate crosses a bound it rescans and
 * evicts the least recently used entries down to 90% of the bounds, so scans are
 * amortised over many puts. Other processes' puts are seen at the next scan, so the
 * bounds are soft by the amount written between scans. Files vanishing under us
 * (another process evicting or clearing) are misses, never errors.
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <lua.h>
#include <lauxlib.h>

#include "sparkgen.h"

#define STORE_MT "sparkgen.cache.store"
#define MAGIC "SGCACHE"          /* 7 chars + NUL = 8 bytes */
#define FORMAT_VERSION 1
#define HEADER_SIZE 64
#define STALE_TMP_SECONDS 3600   /* a temp file this old was left by a crash */
#define PATH_CAP 4096
#define TALLY_MAGIC "SGTALLY"    /* 8 bytes with the NUL */
#define TALLY_SIZE 32
#define MAX_TTL_S 1e10           /* ~300 years: ttl * 1000 stays far inside int64 */

typedef struct mem_entry {
    unsigned char key[32];
    char *value;
    size_t len;
    int64_t created_ms, expires_ms;
    struct mem_entry *prev, *next; /* LRU list: head is the most recently used */
    struct mem_entry *hnext;       /* hash chain */
} mem_entry;

typedef struct {
    char *dir;
    lua_Integer max_entries, max_bytes, lru_entries;
    mem_entry **buckets;
    size_t nbuckets, nmem;
    mem_entry *head, *tail;
    lua_Integer hits, misses;
    int have_estimate;
    int64_t est_entries, est_bytes;
    int closed;
} store;

static unsigned long tmp_counter; /* with the pid, makes temp names unique per process */

/* One file found by a scan. */
typedef struct {
    int64_t mtime_ns, size;
    int irregular;               /* not a regular file: damaged by definition */
    char sub[3];
    char name[63];
} scan_item;

typedef struct {
    scan_item *items;
    size_t n, cap;
    int64_t entries, bytes; /* what is left on disk (eviction lowers them) */
} scan_list;

/* ---- the tally file ---------------------------------------------------------------- */

/* ---- small helpers --------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t entry_checksum(const unsigned char *header, const char *value, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    h = fnv1a(h, header, 40);
    h = fnv1a(h, header + 48, 16);
    return fnv1a(h, value, len);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int parse_hex(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return 1;
}

/* The key argument as text and raw bytes; anything but a sha256 in hex is a bug. */
static const char *check_key(lua_State *L, int arg, unsigned char raw[32])
{
    size_t n;
    const char *key = luaL_checklstring(L, arg, &n);
    if (n != 64 || !parse_hex(key, 64, raw))
        luaL_argerror(L, arg, "expected 64 lowercase hex characters (a sha256)");
    return key;
}

static int entry_path(const store *s, const char *key, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%.2s/%s", s->dir, key, key + 2);
    return n > 0 && (size_t)n < cap;
}

static int fail_errno(lua_State *L, const char *what, int err)
{
    luaL_pushfail(L);
    lua_pushfstring(L, "cache: %s: %s", what, strerror(err));
    return 2;
}

/* Adds hits and misses to DIR/tally under an exclusive lock and stores the totals in
 * *total_hits / *total_misses. Returns 0 when the tally cannot be used (not a regular
 * file, I/O error): counting is best effort and never blocks a cache read. */
static int tally_add(const char *dir, int64_t hits, int64_t misses, int64_t *total_hits, int64_t *total_misses)
{
    char path[PATH_CAP];
    *total_hits = *total_misses = 0;
    if (snprintf(path, sizeof path, "%s/tally", dir) >= (int)sizeof path)
        return 0;
    int writing = hits != 0 || misses != 0;
    int fd = open(path, (writing ? O_RDWR | O_CREAT : O_RDONLY) | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || flock(fd, writing ? LOCK_EX : LOCK_SH) != 0) {
        close(fd);
        return 0;
    }
    unsigned char b[TALLY_SIZE];
    ssize_t n = pread(fd, b, sizeof b, 0);
    if (n == TALLY_SIZE && memcmp(b, TALLY_MAGIC, 8) == 0 &&
        fnv1a(14695981039346656037ULL, b, 24) == get_u64(b + 24)) {
        *total_hits = (int64_t)get_u64(b + 8);
        *total_misses = (int64_t)get_u64(b + 16);
    }
    int ok = 1;
    if (writing) {
        *total_hits += hits;
        *total_misses += misses;
        memcpy(b, TALLY_MAGIC, 8);
        put_u64(b + 8, (uint64_t)*total_hits);
        put_u64(b + 16, (uint64_t)*total_misses);
        put_u64(b + 24, fnv1a(14695981039346656037ULL, b, 24));
        ok = pwrite(fd, b, sizeof b, 0) == TALLY_SIZE;
    }
    close(fd); /* releases the lock */
    return ok;
}

static void tally_reset(const char *dir)
{
    char path[PATH_CAP];
    if (snprintf(path, sizeof path, "%s/tally", dir) < (int)sizeof path)
        unlink(path);
}

/* ---- memory layer ---------------------------------------------------------------- */

static size_t bucket_of(const store *s, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h); /* keys are hashes already */
    return (size_t)(h & (s->nbuckets - 1));
}

static mem_entry *mem_find(store *s, const unsigned char *key)
{
    if (s->nbuckets == 0)
        return NULL;
    for (mem_entry *e = s->buckets[bucket_of(s, key)]; e; e = e->hnext)
        if (memcmp(e->key, key, 32) == 0)
            return e;
    return NULL;
}

static void lru_unlink(store *s, mem_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(store *s, mem_entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (s->tail == NULL)
        s->tail = e;
}

static void mem_remove(store *s, mem_entry *e)
{
    mem_entry **pp = &s->buckets[bucket_of(s, e->key)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(s, e);
    free(e->value);
    free(e);
    s->nmem--;
}

static void mem_drop_key(store *s, const unsigned char *key)
{
    mem_entry *e = mem_find(s, key);
    if (e)
        mem_remove(s, e);
}

/* Best effort: a value that cannot be copied is simply not kept in memory. */
static void mem_put(store *s, const unsigned char *key, const char *value, size_t len,
                    int64_t created, int64_t expires)
{
    if (s->lru_entries <= 0)
        return;
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return;
    memcpy(copy, value, len);
    mem_entry *e = mem_find(s, key);
    if (e) {
        free(e->value);
        lru_unlink(s, e);
    } else {
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            free(copy);
            return;
        }
        memcpy(e->key, key, 32);
        size_t b = bucket_of(s, key);
        e->hnext = s->buckets[b];
        s->buckets[b] = e;
        s->nmem++;
    }
    e->value = copy;
    e->len = len;
    e->created_ms = created;
    e->expires_ms = expires;
    lru_push_front(s, e);
    while (s->nmem > (size_t)s->lru_entries)
        mem_remove(s, s->tail);
}

static void mem_clear(store *s)
{
    while (s->head)
        mem_remove(s, s->head);
}

/* ---- disk entries ---------------------------------------------------------------- */

/* Deletes path only if it is still the file open as fd: another process may have
 * renamed a fresh entry over the bad one since we opened it. */
static void unlink_if_same(const char *path, int fd)
{
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        unlink(path);
}

static int read_full(int fd, void *buf, size_t n, off_t off)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 1;
}

/* Checks a header against the file size and key; returns the value length or -1. */
static int64_t header_ok(const unsigned char *h, int64_t file_size, const unsigned char *key)
{
    if (memcmp(h, MAGIC, 8) != 0 || get_u32(h + 8) != FORMAT_VERSION || get_u32(h + 12) != HEADER_SIZE)
        return -1;
    uint64_t len = get_u64(h + 32);
    if (file_size < HEADER_SIZE || len != (uint64_t)(file_size - HEADER_SIZE))
        return -1;
    if (key && memcmp(h + 48, key, 16) != 0)
        return -1;
    return (int64_t)len;
}

static void push_meta(lua_State *L, int64_t created, int64_t expires, const char *from)
{
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (double)created / 1000.0);
    lua_setfield(L, -2, "created");
    if (expires) {
        lua_pushnumber(L, (double)expires / 1000.0);
        lua_setfield(L, -2, "expires");
    }
    lua_pushstring(L, from);
    lua_setfield(L, -2, "from");
}

/* ---- scanning and eviction --------------------------------------------------------- */

static int is_hex_name(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (hexval((unsigned char)s[i]) < 0)
            return 0;
    return 1;
}

static int scan_add(scan_list *l, const char *sub, const char *name, const struct stat *st)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        scan_item *grown = realloc(l->items, cap * sizeof *grown);
        if (grown == NULL)
            return 0;
        l->items = grown;
        l->cap = cap;
    }
    scan_item *it = &l->items[l->n++];
    it->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    it->irregular = !S_ISREG(st->st_mode);
    it->size = it->irregular ? 0 : (int64_t)st->st_size;
    memcpy(it->sub, sub, 3);
    memcpy(it->name, name, 63);
    l->bytes += it->size;
    l->entries++;
    return 1;
}

/* Lists every entry (and removes stale temp files). With `remove_all`, deletes every
 * entry instead and counts them in l->n without keeping them. Returns 0 on OOM. */
static int scan_dir(const store *s, scan_list *l, int remove_all)
{
    DIR *top = opendir(s->dir);
    if (top == NULL)
        return 1; /* no directory: no entries */
    struct dirent *d;
    char path[PATH_CAP];
    time_t now = time(NULL);
    int ok = 1;
    while (ok && (d = readdir(top)) != NULL) {
        if (!is_hex_name(d->d_name, 2))
            continue;
        snprintf(path, sizeof path, "%s/%s", s->dir, d->d_name);
        DIR *sub = opendir(path);
        if (sub == NULL)
            continue; /* removed meanwhile */
        int sfd = dirfd(sub);
        struct dirent *f;
        while (ok && (f = readdir(sub)) != NULL) {
            struct stat st;
            if (strncmp(f->d_name, ".tmp-", 5) == 0) {
                /* A recent one belongs to a put in progress (maybe another process's):
                 * leave it, even when clearing, or that put's rename fails. */
                if (fstatat(sfd, f->d_name, &st, 0) == 0 && now - st.st_mtime > STALE_TMP_SECONDS)
                    unlinkat(sfd, f->d_name, 0);
                continue;
            }
            if (!is_hex_name(f->d_name, 62) || fstatat(sfd, f->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (remove_all) {
                if (unlinkat(sfd, f->d_name, 0) == 0)
                    l->n++;
                continue;
            }
            ok = scan_add(l, d->d_name, f->d_name, &st);
        }
        closedir(sub);
        if (remove_all)
            rmdir(path); /* fails harmlessly if another process wrote meanwhile */
    }
    closedir(top);
    return ok;
}

/* Removes a file, or what a damaged entry may be instead (an empty directory). */
static int remove_path(const char *path)
{
    if (unlink(path) == 0)
        return 1;
    return (errno == EISDIR || errno == EPERM) && rmdir(path) == 0;
}

static int by_mtime(const void *a, const void *b)
{
    const scan_item *x = a, *y = b;
    return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

static void item_key(const scan_item *it, unsigned char key[32])
{
    char hex[64];
    memcpy(hex, it->sub, 2);
    memcpy(hex + 2, it->name, 62);
    parse_hex(hex, 64, key);
}

/* Removes the least recently used entries of l until both totals fit; returns how many
 * this call removed. l's totals are updated. */
static int64_t evict_to(store *s, scan_list *l, int64_t max_entries, int64_t max_bytes)
{
    int64_t removed = 0;
    if (l->n == 0 || (l->entries <= max_entries && l->bytes <= max_bytes))
        return 0;
    qsort(l->items, l->n, sizeof *l->items, by_mtime);
    char path[PATH_CAP];
    for (size_t i = 0; i < l->n && (l->entries > max_entries || l->bytes > max_bytes); i++) {
        scan_item *it = &l->items[i];
        snprintf(path, sizeof path, "%s/%s/%s", s->dir, it->sub, it->name);
        int gone = remove_path(path);
        if (gone || errno == ENOENT) { /* ENOENT: someone else evicted it: still gone */
            l->entries--;
            l->bytes -= it->size;
            removed += gone;
            unsigned char key[32];
            item_key(it, key);
            mem_drop_key(s, key);
        }
    }
    return removed;
}

/* Rescans, evicts to 90% of the bounds, refreshes the estimate. */
static int enforce_bounds(store *s)
{
    scan_list l = {0};
    int ok = scan_dir(s, &l, 0);
    if (ok) {
        int64_t low_entries = s->max_entries - s->max_entries / 10;
        int64_t low_bytes = s->max_bytes - s->max_bytes / 10;
        if (l.entries > s->max_entries || l.bytes > s->max_bytes)
            evict_to(s, &l, low_entries < 1 ? 1 : low_entries, low_bytes);
        s->est_entries = l.entries;
        s->est_bytes = l.bytes;
        s->have_estimate = 1;
    }
    free(l.items);
    return ok;
}

/* ---- methods --------------------------------------------------------------------- */

static store *check_store(lua_State *L)
{
    store *s = luaL_checkudata(L, 1, STORE_MT);
    if (s->closed)
        luaL_error(L, "attempt to use a closed cache");
    return s;
}

/* A raw buffer of n bytes as a userdata (collected like any value). */
static int alloc_buffer(lua_State *L)
{
    lua_Integer n = lua_tointeger(L, 1);
    lua_newuserdatauv(L, n > 0 ? (size_t)n : 1, 0);
    return 1;
}

enum entry_state { ENTRY_OK, ENTRY_EXPIRED, ENTRY_CORRUPT, ENTRY_GONE };

/* Verifies the entry at path (header, size, key and checksum, read in chunks so a
 * large value needs no buffer) without keeping it. */
static enum entry_state check_entry(const char *path, const unsigned char *key, int64_t now)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ENTRY_GONE : ENTRY_CORRUPT;
    unsigned char h[HEADER_SIZE];
    struct stat st;
    enum entry_state state = ENTRY_CORRUPT;
    int64_t len;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read_full(fd, h, HEADER_SIZE, 0) &&
        (len = header_ok(h, (int64_t)st.st_size, key)) >= 0) {
        uint64_t sum = 14695981039346656037ULL;
        sum = fnv1a(sum, h, 40);
        sum = fnv1a(sum, h + 48, 16);
        char chunk[65536];
        int64_t off = 0;
        while (off < len) {
            size_t n = (size_t)(len - off < (int64_t)sizeof chunk ? len - off : (int64_t)sizeof chunk);
            if (!read_full(fd, chunk, n, HEADER_SIZE + off))
                break;
            sum = fnv1a(sum, chunk, n);
            off += (int64_t)n;
        }
        if (off == len && sum == get_u64(h + 40)) {
            int64_t expires = (int64_t)get_u64(h + 24);
            state = expires != 0 && now >= expires ? ENTRY_EXPIRED : ENTRY_OK;
        }
    }
    close(fd);
    return state;
}

static int l_cache_get(lua_State *L)
{
    store *s = check_store(L);
    unsigned char raw[32];
    const char *key = check_key(L, 2, raw);
    int64_t now = now_ms();

    mem_entry *e = mem_find(s, raw);
    if (e) {
        if (e->expires_ms == 0 || now < e->expires_ms) {
            lru_unlink(s, e);
            lru_push_front(s, e);
            s->hits++;
            lua_pushlstring(L, e->value, e->len);
            push_meta(L, e->created_ms, e->expires_ms, "memory");
            return 2;
        }
        mem_remove(s, e); /* expired: the disk copy is dealt with below */
    }

    char path[PATH_CAP];
    if (!entry_path(s, key, path, sizeof path))
        return luaL_error(L, "cache directory path too long");
    /* O_NONBLOCK: a FIFO put in an entry's place must not stall the read. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        s->misses++;
        if (err == ENOENT || err == ENOTDIR)
            return 0;
        if (err == ELOOP) { /* a symbolic link is not an entry */
            unlink(path);
            return 0;
        }
        return fail_errno(L, path, err);
    }
    struct stat st;
    unsigned char h[HEADER_SIZE];
    int64_t len = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= s->max_bytes &&
        read_full(fd, h, HEADER_SIZE, 0))
        len = header_ok(h, (int64_t)st.st_size, raw);
    if (len < 0) {
        /* Damaged, or not a regular file. One larger than this handle's bound may be a
         * valid entry written under a larger max_bytes: leave it to eviction. */
        if (!(S_ISREG(st.st_mode) && st.st_size > s->max_bytes))
            unlink_if_same(path, fd);
        close(fd);
        s->misses++;
        return 0;
    }
    int64_t created = (int64_t)get_u64(h + 16), expires = (int64_t)get_u64(h + 24);
    if (expires != 0 && now >= expires) {
        unlink_if_same(path, fd);
        close(fd);
        s->misses++;
        return 0;
    }
    /* The buffer is allocated in a protected call: an out-of-memory error must not
     * unwind past the open descriptor. */
    lua_pushcfunction(L, alloc_buffer);
    lua_pushinteger(L, (lua_Integer)len);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        close(fd);
        s->misses++;
        return lua_error(L);
    }
    char *p = lua_touserdata(L, -1);
    if (!read_full(fd, p, (size_t)len, HEADER_SIZE) || entry_checksum(h, p, (size_t)len) != get_u64(h + 40)) {
        unlink_if_same(path, fd);
        close(fd);
        s->misses++;
        return 0;
    }
    futimens(fd, NULL); /* a hit is a use: the disk LRU order is the mtime */
    close(fd);
    mem_put(s, raw, p, (size_t)len, created, expires);
    s->hits++;
    lua_pushlstring(L, p, (size_t)len);
    push_meta(L, created, expires, "disk");
    return 2;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            int rc = mkdir(path, 0700);
            *p = saved;
            if (rc != 0 && errno != EEXIST)
                return 0;
            if (saved == '\0')
                return 1;
        }
    }
}

static int write_all(int fd, const void *a, size_t an, const void *b, size_t bn)
{
    struct iovec iov[2] = {{(void *)a, an}, {(void *)b, bn}};
    int i = 0;
    while (i < 2) {
        if (iov[i].iov_len == 0) {
            i++;
            continue;
        }
        ssize_t w = writev(fd, iov + i, 2 - i);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return 0;
        size_t left = (size_t)w;
        while (i < 2 && left >= iov[i].iov_len) {
            left -= iov[i].iov_len;
            iov[i].iov_len = 0;
            i++;
        }
        if (i < 2) {
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
    }
    return 1;
}

static int l_cache_put(lua_State *L)
{
    store *s = check_store(L);
    unsigned char raw[32];
    const char *key = check_key(L, 2, raw);
    size_t len;
    const char *value = luaL_checklstring(L, 3, &len);
    double ttl = luaL_optnumber(L, 4, 0);
    if (!isfinite(ttl) || ttl > MAX_TTL_S) {
        /* (int64_t) of NaN, an infinity or 1e300 is undefined behaviour */
        const char *got = luaL_tolstring(L, 4, NULL);
        luaL_pushfail(L);
        lua_pushfstring(L, "cache: ttl_s must be a finite number of seconds up to 1e10 (got %s)", got);
        return 2;
    }
    if ((int64_t)len + HEADER_SIZE > s->max_bytes) {
        luaL_pushfail(L);
        lua_pushfstring(L, "cache: value of %I bytes is larger than the cache (max_bytes %I)",
                        (lua_Integer)len, s->max_bytes);
        return 2;
    }
    int64_t created = now_ms();
    int64_t expires = ttl > 0 ? created + (int64_t)(ttl * 1000 + 0.5) : 0;
    if (ttl > 0 && expires <= created)
        expires = created + 1;

    unsigned char h[HEADER_SIZE] = {0};
    memcpy(h, MAGIC, 8);
    put_u32(h + 8, FORMAT_VERSION);
    put_u32(h + 12, HEADER_SIZE);
    put_u64(h + 16, (uint64_t)created);
    put_u64(h + 24, (uint64_t)expires);
    put_u64(h + 32, (uint64_t)len);
    memcpy(h + 48, raw, 16);
    put_u64(h + 40, entry_checksum(h, value, len));

    char path[PATH_CAP], tmp[PATH_CAP];
    if (!entry_path(s, key, path, sizeof path))
        return luaL_error(L, "cache directory path too long");
    snprintf(tmp, sizeof tmp, "%s/%.2s/.tmp-%ld-%lu-%ld", s->dir, key, (long)getpid(),
             ++tmp_counter, (long)(created % 1000000));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    /* ENOENT: the first entry under this prefix, or another process's clear() removed
     * the directory meanwhile (possibly again between our mkdir and open). */
    for (int tries = 0; fd < 0 && errno == ENOENT && tries < 3; tries++) {
        char sub[PATH_CAP];
        snprintf(sub, sizeof sub, "%s/%.2s", s->dir, key);
        if (!mkdirs(sub))
            return fail_errno(L, sub, errno);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return fail_errno(L, tmp, errno);
    int ok = write_all(fd, h, HEADER_SIZE, value, len);
    int err = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    struct stat old;
    int replaced = ok && stat(path, &old) == 0;
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        return fail_errno(L, path, err);
    }
    mem_put(s, raw, value, len, created, expires);

    int64_t size = (int64_t)len + HEADER_SIZE;
    if (!s->have_estimate) {
        enforce_bounds(s);
    } else {
        s->est_entries += replaced ? 0 : 1;
        s->est_bytes += size - (replaced ? (int64_t)old.st_size : 0);
        if (s->est_entries > s->max_entries || s->est_bytes > s->max_bytes)
            enforce_bounds(s);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_cache_delete(lua_State *L)
{
    store *s = check_store(L);
    unsigned char raw[32];
    const char *key = check_key(L, 2, raw);
    int removed = 0;
    mem_entry *e = mem_find(s, raw);
    if (e) {
        mem_remove(s, e);
        removed = 1;
    }
    char path[PATH_CAP];
    if (!entry_path(s, key, path, sizeof path))
        return luaL_error(L, "cache directory path too long");
    struct stat st;
    if (stat(path, &st) == 0 && unlink(path) == 0) {
        removed = 1;
        if (s->have_estimate) {
            s->est_entries--;
            s->est_bytes -= (int64_t)st.st_size;
        }
    }
    lua_pushboolean(L, removed);
    return 1;
}

/* Sorts the scan's items into valid, expired and corrupt ones (checked with
 * check_entry); with `remove`, expired and corrupt ones are deleted and the list keeps
 * only the valid ones, with its totals updated. */
static void verify_scan(store *s, scan_list *l, int remove, int64_t *expired, int64_t *corrupt)
{
    int64_t now = now_ms();
    char path[PATH_CAP];
    size_t kept = 0;
    *expired = *corrupt = 0;
    for (size_t i = 0; i < l->n; i++) {
        scan_item *it = &l->items[i];
        snprintf(path, sizeof path, "%s/%s/%s", s->dir, it->sub, it->name);
        unsigned char key[32];
        item_key(it, key);
        enum entry_state st = it->irregular ? ENTRY_CORRUPT : check_entry(path, key, now);
        if (st == ENTRY_CORRUPT)
            (*corrupt)++;
        else if (st == ENTRY_EXPIRED)
            (*expired)++;
        if (st == ENTRY_OK || (!remove && st != ENTRY_GONE)) {
            l->items[kept++] = *it;
            continue;
        }
        if (remove && st != ENTRY_GONE) {
            remove_path(path);
            mem_drop_key(s, key);
        }
        l->bytes -= it->size;
    }
    l->n = kept;
    l->entries = (int64_t)kept;
}

/* This handle's counts added to the tally file's; the handle's are then zero. */
static void flush_tally(store *s)
{
    int64_t h, m;
    if (s->hits || s->misses) {
        tally_add(s->dir, s->hits, s->misses, &h, &m);
        s->hits = s->misses = 0;
    }
}

static int l_cache_stats(lua_State *L)
{
    store *s = check_store(L);
    scan_list l = {0};
    int ok = scan_dir(s, &l, 0);
    int64_t expired = 0, corrupt = 0;
    if (ok)
        verify_scan(s, &l, 0, &expired, &corrupt);
    free(l.items);
    if (!ok)
        return luaL_error(L, "cache: out of memory while scanning %s", s->dir);
    s->est_entries = l.entries;
    s->est_bytes = l.bytes;
    s->have_estimate = 1;
    int64_t hits, misses;
    tally_add(s->dir, 0, 0, &hits, &misses);
    lua_createtable(L, 0, 11);
    lua_pushinteger(L, (lua_Integer)l.n);
    lua_setfield(L, -2, "entries");
    lua_pushinteger(L, (lua_Integer)l.bytes);
    lua_setfield(L, -2, "bytes");
    lua_pushinteger(L, (lua_Integer)corrupt);
    lua_setfield(L, -2, "corrupt");
    lua_pushinteger(L, (lua_Integer)expired);
    lua_setfield(L, -2, "expired");
    lua_pushinteger(L, (lua_Integer)s->nmem);
    lua_setfield(L, -2, "memory_entries");
    lua_pushinteger(L, (lua_Integer)hits + s->hits);
    lua_setfield(L, -2, "hits");
    lua_pushinteger(L, (lua_Integer)misses + s->misses);
    lua_setfield(L, -2, "misses");
    lua_pushstring(L, s->dir);
    lua_setfield(L, -2, "dir");
    lua_pushinteger(L, s->max_entries);
    lua_setfield(L, -2, "max_entries");
    lua_pushinteger(L, s->max_bytes);
    lua_setfield(L, -2, "max_bytes");
    return 1;
}

static int l_cache_clear(lua_State *L)
{
    store *s = check_store(L);
    scan_list l = {0};
    scan_dir(s, &l, 1);
    mem_clear(s);
    tally_reset(s->dir);
    s->hits = s->misses = 0;
    s->est_entries = 0;
    s->est_bytes = 0;
    s->have_estimate = 1;
    lua_pushinteger(L, (lua_Integer)l.n);
    return 1;
}

static int l_cache_prune(lua_State *L)
{
    store *s = check_store(L);
    scan_list l = {0};
    if (!scan_dir(s, &l, 0)) {
        free(l.items);
        return luaL_error(L, "cache: out of memory while scanning %s", s->dir);
    }
    int64_t expired, corrupt;
    verify_scan(s, &l, 1, &expired, &corrupt);
    int64_t evicted = evict_to(s, &l, s->max_entries, s->max_bytes);
    s->est_entries = l.entries;
    s->est_bytes = l.bytes;
    s->have_estimate = 1;
    free(l.items);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)expired);
    lua_setfield(L, -2, "expired");
    lua_pushinteger(L, (lua_Integer)evicted);
    lua_setfield(L, -2, "evicted");
    lua_pushinteger(L, (lua_Integer)corrupt);
    lua_setfield(L, -2, "corrupt");
    return 1;
}

static void store_release(store *s)
{
    if (s->closed)
        return;
    if (s->dir)
        flush_tally(s);
    if (s->buckets)
        mem_clear(s);
    free(s->buckets);
    free(s->dir);
    s->buckets = NULL;
    s->dir = NULL;
    s->closed = 1;
}

static int l_cache_close(lua_State *L)
{
    store_release(luaL_checkudata(L, 1, STORE_MT));
    return 0;
}

static int l_cache_tostring(lua_State *L)
{
    store *s = luaL_checkudata(L, 1, STORE_MT);
    if (s->closed)
        lua_pushliteral(L, "sparkgen.cache.store (closed)");
    else
        lua_pushfstring(L, "sparkgen.cache.store (%s)", s->dir);
    return 1;
}

static lua_Integer opt_positive(lua_State *L, const char *key, lua_Integer dflt, lua_Integer min)
{
    lua_Integer v = dflt;
    if (lua_getfield(L, 1, key) != LUA_TNIL) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < min)
            luaL_error(L, "bad argument #1 to 'open' (%s must be an integer >= %d)", key, (int)min);
    }
    lua_pop(L, 1);
    return v;
}

static int l_cache_open(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "dir") != LUA_TSTRING)
        return luaL_error(L, "bad argument #1 to 'open' (dir must be a string)");
    size_t dlen;
    const char *dir = lua_tolstring(L, -1, &dlen);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (dlen == 0 || dlen > PATH_CAP - 80)
        return luaL_error(L, "bad argument #1 to 'open' (dir is empty or too long)");
    lua_Integer max_entries = opt_positive(L, "max_entries", 10000, 1);
    lua_Integer max_bytes = opt_positive(L, "max_bytes", 256 << 20, HEADER_SIZE + 1);
    lua_Integer lru_entries = opt_positive(L, "lru_entries", 256, 0);

    store *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    s->closed = 1; /* until fully built, __gc has nothing to free */
    luaL_setmetatable(L, STORE_MT);
    s->dir = malloc(dlen + 1);
    size_t nb = 16;
    while (nb < (size_t)lru_entries * 2 && nb < ((size_t)1 << 24))
        nb *= 2;
    s->buckets = calloc(nb, sizeof *s->buckets);
    s->closed = 0;
    if (s->dir == NULL || s->buckets == NULL)
        return luaL_error(L, "out of memory");
    memcpy(s->dir, dir, dlen);
    s->dir[dlen] = '\0';
    s->nbuckets = nb;
    s->max_entries = max_entries;
    s->max_bytes = max_bytes;
    s->lru_entries = lru_entries;
    if (!mkdirs(s->dir)) {
        int err = errno;
        store_release(s);
        return fail_errno(L, dir, err);
    }
    return 1;
}

static int l_cache_tally(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    lua_Integer hits = luaL_optinteger(L, 2, 0), misses = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, hits >= 0, 2, "hits must be >= 0");
    luaL_argcheck(L, misses >= 0, 3, "misses must be >= 0");
    int64_t th, tm;
    tally_add(dir, hits, misses, &th, &tm);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)th);
    lua_setfield(L, -2, "hits");
    lua_pushinteger(L, (lua_Integer)tm);
    lua_setfield(L, -2, "misses");
    return 1;
}

static int l_cache_reset_tally(lua_State *L)
{
    tally_reset(luaL_checkstring(L, 1));
    return 0;
}

static const luaL_Reg store_methods[] = {
    {"get", l_cache_get},     {"put", l_cache_put},     {"delete", l_cache_delete},
    {"stats", l_cache_stats}, {"clear", l_cache_clear}, {"prune", l_cache_prune},
    {"close", l_cache_close}, {NULL, NULL},
};

static const luaL_Reg cache_functions[] = {
    {"open", l_cache_open},
    {"tally", l_cache_tally},
    {"reset_tally", l_cache_reset_tally},
    {NULL, NULL},
};

int luaopen_sparkgen_cache(lua_State *L)
{
    if (luaL_newmetatable(L, STORE_MT)) {
        luaL_newlib(L, store_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_cache_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_cache_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_cache_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_newlib(L, cache_functions);
    return 1;
}
