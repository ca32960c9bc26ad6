/*
 * pg.c — sparkgen.pg: a read-only PostgreSQL connection (libpq) and the catalog reads
 * the schema service needs. No policy lives here: it returns Lua tables and lets
 * lua/sparkgen/schema.lua decide about caching, naming and selection.
 *
 * Every session is read-only (options -c default_transaction_read_only=on and every
 * read inside BEGIN READ ONLY), bounded (-c statement_timeout=N) and identifiable
 * (application_name=sparkgen). Each read is one network round trip: BEGIN READ ONLY,
 * the query and COMMIT are sent together in libpq's pipeline mode. User-supplied names
 * reach the server only as query parameters, never as SQL text.
 *
 * @function connect(conninfo|nil, {statement_timeout_ms=30000, connect_timeout_s=10,
 *                                    on_notice=function(message)})
 *   conninfo is passed to libpq untouched (URI or key=value; PG* variables, service
 *   files and .pgpass apply as usual); sparkgen's options are added on top (the session
 *   options string is built to any length: a long PGOPTIONS never pushes the read-only
 *   and timeout settings out).
 *   @return conn, or nil, message, sqlstate — the message names the host, port,
 *   database and user tried and libpq's reason, never the password.
 *   Server notices (NOTICE, WARNING, ...) never reach stderr: libpq's notice processor
 *   keeps them (at most 64 per call; more are counted) and each is passed, as one
 *   cleaned line, to on_notice after the call that received it returns (nothing is
 *   called from inside libpq). Without on_notice they are dropped.
 *
 * Secrets: every message that comes from libpq passes through one function
 * (push_clean_message) that replaces the password (as parsed and as libpq used it) by
 * ***; a string that does not parse has no reliable password, so in parse errors every
 * quoted fragment libpq copied from the string is replaced too, except option names
 * ("invalid connection option "pasword"" keeps the name).
 *
 * Memory errors: every conn method runs protected (guarded()): results are cleared, an
 * interrupted pipeline is drained and rolled back and the garbage collector restarted
 * before the error goes on, so the connection stays usable.
 * @function identity(conninfo|nil)
 *   @return {host=, port=, dbname=, user=, service=?} resolved without connecting, or
 *   nil, message when conninfo does not parse. Used as the schema cache key.
 * @field CATALOG_SQL, FOREIGN_KEYS_SQL, STATS_SQL  the query texts ($1.. parameters),
 *   exposed so the benchmark can run the same catalog query through psql.
 * @field LIBPQ_VERSION  libpq's version number (e.g. 150018).
 *
 * conn (userdata "sparkgen.pg.conn"; __gc and __close; a closed handle raises):
 * @function conn:catalog(schemas|nil[, on_table])
 *   @return {table...} in the snapshot shape of docs/internals.md, sorted by schema
 *   then name: {schema=, name=, kind=, comment=?, rows=?, columns={{name=, position=,
 *   type=, nullable=, default=?, generated=true|nil, comment=?}...},
 *   primary_key={names...}} (absent fields are nil; generated is nil when false, which
 *   keeps 200,000 column tables small).
 *   kind: table | partitioned_table | view | materialized_view | foreign_table.
 *   Partitions are folded into their parent (whose rows sum the partitions').
 *   schemas: list of schema names; nil = every non-system schema the role can use.
 *   on_table(t), when given, is called with each table as soon as its rows stop
 *   coming (while the server still sends the others, so a caller can encode and
 *   store tables during the query); a table whose rows came apart, or whose columns
 *   came out of order, is called (again) once at the end instead. At most two calls
 *   per table; the last one sees its final content. An error in it ends the read;
 *   it must not use the connection.
 * @function conn:foreign_keys(schema, table)
 *   @return {outgoing={fk...}, incoming={fk...}}, each fk {name=, schema=, table=,
 *   columns={...}, ref_schema=, ref_table=, ref_columns={...}} (schema/table name the
 *   referencing side). Composite keys stay one fk with columns in key order;
 *   constraints declared on partitions are reported once, on the partitioned parent.
 *   nil, message when the table does not exist.
 * @function conn:all_foreign_keys(schemas|nil)
 *   @return {fk...}: every foreign key whose referencing table is in the schemas, in
 *   the same shape and folding as foreign_keys, ordered by referencing table.
 * @function conn:stats(schema, table[, column])
 *   @return {rows=?, partition_column=?, lower=?, upper=?} from reltuples and the
 *   pg_stats histogram of column (default: the single-column integer primary key), no
 *   table scan; nil, message when the table does not exist.
 * @function conn:check_read_only()
 *   tries a write (CREATE TEMP TABLE, rolled back) and @return true, message, "25006"
 *   when the server refuses it as read-only; nil, message otherwise.
 * @function conn:identity()  {host=, port=, dbname=, user=} of the live session
 * @function conn:server_version()  e.g. 150018
 * @function conn:setting(name)  the session's value of a setting (current_setting, the
 *   name as a parameter), e.g. conn:setting("jit") --> "off"; nil, message when unknown
 * @function conn:close()
 *
 * @example
 *   local conn <close> = assert(pg.connect("postgresql:///shop"))
 *   for _, t in ipairs(conn:catalog({"public"})) do print(t.name, #t.columns) end
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>
#include <libpq-fe.h>

#include "sparkgen.h"

#define CONN_MT "sparkgen.pg.conn"
#define MAX_NOTICES 64

/* What a method holds while it may raise (out of memory while building Lua values):
 * the results it works on and whether the connection is inside a pipeline. guarded()
 * releases and repairs all of it whether the method returned or raised. */
typedef struct {
    PGresult *res[2];
    int pipeline;
} guard;

typedef struct {
    PGconn *pg;
    guard *g;                     /* the method running now (guarded) */
    char *notices[MAX_NOTICES];   /* server notices not yet handed to Lua */
    int nnotices, dropped;
    int on_notice;                /* registry ref of the Lua callback, or LUA_NOREF */
    const char *password;         /* for redaction while connecting (not owned) */
} pg_conn;

/* One row per column (tables without columns still get one row with NULL attnum).
 * Columns by number: 0 oid, 1 schema, 2 name, 3 relkind, 4 rows, 5 table comment,
 * 6 attname, 7 attnum, 8 type, 9 notnull, 10 default, 11 generated, 12 column comment,
 * 13 position in the primary key.
 * The rows of a partitioned table are summed once per partitioned table in a join, not
 * in a subquery of the select list: the planner charges such a subquery to every output
 * row (one per column), which put a 10,000-table catalog's estimate at 11 million, far
 * past the JIT thresholds; joined, the estimate stays proportional to the catalog.
 * No ORDER BY: the server streams rows as it computes them (a sort would hold every
 * row back until the last was computed), so decoding overlaps the query; catalog()
 * groups the rows by oid, puts each table's columns in position order and sorts the
 * tables by name.
 * Defaults are printed without their table (relid 0) unless the column is generated:
 * PostgreSQL rejects column references in a DEFAULT, and pg_get_expr with a table
 * opens that table to name its columns, which on a cold session is a relation-cache
 * build per table (10,000 tables x 3 defaults: about 0.1 s of the query); a
 * generation expression names columns, so it keeps its table. */
static const char CATALOG_SQL[] =
    "SELECT c.oid, n.nspname, c.relname, c.relkind,\n"
    "       CASE WHEN c.relkind = 'p' THEN pr.rows\n"
    "            WHEN c.reltuples >= 0 THEN c.reltuples END::bigint AS rows,\n"
    "       td.description,\n"
    "       a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,\n"
    "       pg_get_expr(ad.adbin, CASE WHEN a.attgenerated <> '' THEN ad.adrelid ELSE 0 END),\n"
    "       a.attgenerated <> '', cd.description,\n"
    "       array_position(pk.conkey, a.attnum)\n"
    "  FROM pg_class c\n"
    "  JOIN pg_namespace n ON n.oid = c.relnamespace\n"
    "  LEFT JOIN pg_description td ON td.objoid = c.oid\n"
    "       AND td.classoid = 'pg_class'::regclass AND td.objsubid = 0\n"
    "  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped\n"
    "  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum\n"
    "  LEFT JOIN pg_description cd ON cd.objoid = c.oid\n"
    "       AND cd.classoid = 'pg_class'::regclass AND cd.objsubid = a.attnum\n"
    "  LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'\n"
    "  LEFT JOIN (SELECT p.oid, sum(pc.reltuples) FILTER (WHERE pc.reltuples >= 0) AS rows\n"
    "               FROM pg_class p CROSS JOIN LATERAL pg_partition_tree(p.oid) pt\n"
    "               JOIN pg_class pc ON pc.oid = pt.relid\n"
    "              WHERE p.relkind = 'p' AND pt.isleaf GROUP BY p.oid) pr ON pr.oid = c.oid\n"
    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')\n"
    "   AND NOT c.relispartition\n"
    "   AND n.nspname NOT IN ('pg_catalog', 'information_schema')\n"
    "   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'\n"
    "   AND ($1::text[] IS NULL OR n.nspname = ANY ($1::text[]))\n"
    "   AND has_schema_privilege(n.oid, 'USAGE')\n"
    "   AND has_table_privilege(c.oid, 'SELECT')";

/* The foreign keys of the catalog, folded onto partition roots, with their column lists
 * in order (composite keys stay together); each query below narrows it further. */
#define FK_FOLDED_SQL \
    "  SELECT con.conname,\n" \
    "         coalesce(pg_partition_root(con.conrelid), con.conrelid) AS src,\n" \
    "         coalesce(pg_partition_root(con.confrelid), con.confrelid) AS dst,\n" \
    "         ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY u(k, i)\n" \
    "                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = u.k\n" \
    "                ORDER BY u.i) AS cols,\n" \
    "         ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY u(k, i)\n" \
    "                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = u.k\n" \
    "                ORDER BY u.i) AS refcols\n" \
    "    FROM pg_constraint con\n" \
    "   WHERE con.contype = 'f' AND con.conparentid = 0"

/* One row per column pair of each foreign key touching the table ($1 schema, $2 name),
 * in key order. Constraints cloned onto partitions (conparentid <> 0) are skipped and
 * both ends are mapped to their partition root, so a key declared partition by
 * partition is reported once, on the parent. Columns: 0 outgoing, 1 incoming, 2 name,
 * 3 schema, 4 table, 5 ref_schema, 6 ref_table, 7 column, 8 ref_column, 9 ordinal. */
static const char FOREIGN_KEYS_SQL[] =
    "WITH target AS (\n"
    "  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
    "   WHERE n.nspname = $1 AND c.relname = $2),\n"
    "family AS (\n"
    "  SELECT oid FROM target\n"
    "  UNION SELECT pt.relid FROM target, pg_partition_tree(target.oid) pt),\n"
    "fk AS (\n"
    FK_FOLDED_SQL "\n"
    "     AND (con.conrelid IN (SELECT oid FROM family)\n"
    "          OR con.confrelid IN (SELECT oid FROM family))),\n"
    "uniq AS (\n"
    "  SELECT min(conname) AS conname, src, dst, cols, refcols\n"
    "    FROM fk GROUP BY src, dst, cols, refcols)\n"
    "SELECT u.src = t.oid, u.dst = t.oid, u.conname, sn.nspname, sc.relname,\n"
    "       dn.nspname, dc.relname, k.col, k.refcol, k.i\n"
    "  FROM uniq u CROSS JOIN target t\n"
    "  JOIN pg_class sc ON sc.oid = u.src JOIN pg_namespace sn ON sn.oid = sc.relnamespace\n"
    "  JOIN pg_class dc ON dc.oid = u.dst JOIN pg_namespace dn ON dn.oid = dc.relnamespace\n"
    "  CROSS JOIN LATERAL unnest(u.cols, u.refcols) WITH ORDINALITY k(col, refcol, i)\n"
    " ORDER BY u.conname, sn.nspname, sc.relname, dn.nspname, dc.relname, u.cols, k.i";

/* Every foreign key whose referencing table is in the schemas ($1 text[] or NULL for
 * all), folded onto partition roots like FOREIGN_KEYS_SQL and in its row shape (all
 * outgoing), ordered by referencing table: one read for `schema dump`. */
static const char ALL_FOREIGN_KEYS_SQL[] =
    "WITH fk AS (\n"
    FK_FOLDED_SQL "),\n"
    "uniq AS (\n"
    "  SELECT min(conname) AS conname, src, dst, cols, refcols\n"
    "    FROM fk GROUP BY src, dst, cols, refcols)\n"
    "SELECT true, false, u.conname, sn.nspname, sc.relname,\n"
    "       dn.nspname, dc.relname, k.col, k.refcol, k.i\n"
    "  FROM uniq u\n"
    "  JOIN pg_class sc ON sc.oid = u.src JOIN pg_namespace sn ON sn.oid = sc.relnamespace\n"
    "  JOIN pg_class dc ON dc.oid = u.dst JOIN pg_namespace dn ON dn.oid = dc.relnamespace\n"
    "  CROSS JOIN LATERAL unnest(u.cols, u.refcols) WITH ORDINALITY k(col, refcol, i)\n"
    " WHERE ($1::text[] IS NULL OR sn.nspname = ANY ($1::text[]))\n"
    " ORDER BY sn.nspname, sc.relname, u.conname, dn.nspname, dc.relname, u.cols, k.i";

/* Cheap statistics for a partitioned JDBC read ($1 schema, $2 name, $3 column or NULL
 * for the single-column integer primary key). Columns: 0 found, 1 rows, 2 column,
 * 3 lower, 4 upper. Histogram bounds exclude the most common values, so the bounds are
 * widened by them; Spark only uses the bounds to size partitions, not to filter. */
static const char STATS_SQL[] =
    "WITH t AS (\n"
    "  SELECT c.oid, c.relkind, n.nspname, c.relname,\n"
    "         CASE WHEN c.relkind = 'p' THEN\n"
    "                (SELECT sum(pc.reltuples) FILTER (WHERE pc.reltuples >= 0)\n"
    "                   FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid\n"
    "                  WHERE pt.isleaf)\n"
    "              WHEN c.reltuples >= 0 THEN c.reltuples END::bigint AS rows\n"
    "    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
    "   WHERE n.nspname = $1 AND c.relname = $2),\n"
    "col AS (\n"
    "  SELECT a.attname FROM t JOIN pg_attribute a ON a.attrelid = t.oid\n"
    "   WHERE a.attnum > 0 AND NOT a.attisdropped\n"
    "     AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)\n"
    "     AND CASE WHEN $3::text IS NOT NULL THEN a.attname = $3::text\n"
    "              ELSE a.attnum = (SELECT pk.conkey[1] FROM pg_constraint pk\n"
    "                                WHERE pk.conrelid = t.oid AND pk.contype = 'p'\n"
    "                                  AND cardinality(pk.conkey) = 1) END),\n"
    "st AS (\n"
    "  SELECT s.histogram_bounds::text::bigint[] AS h,\n"
    "         s.most_common_vals::text::bigint[] AS m\n"
    "    FROM t, col, pg_stats s\n"
    "   WHERE s.schemaname = t.nspname AND s.tablename = t.relname AND s.attname = col.attname\n"
    "   ORDER BY s.inherited DESC LIMIT 1)\n"
    "SELECT true, t.rows, (SELECT attname FROM col),\n"
    "       (SELECT least((SELECT min(x) FROM unnest(st.h) x), (SELECT min(x) FROM unnest(st.m) x)) FROM st),\n"
    "       (SELECT greatest((SELECT max(x) FROM unnest(st.h) x), (SELECT max(x) FROM unnest(st.m) x)) FROM st)\n"
    "  FROM t";

/* ---------------------------------------------------------------- helpers */

static pg_conn *check_conn(lua_State *L, int idx)
{
    pg_conn *c = (pg_conn *)luaL_checkudata(L, idx, CONN_MT);
    if (c->pg == NULL)
        luaL_error(L, "attempt to use a closed PostgreSQL connection");
    return c;
}

/* Was the n-byte fragment at p copied from the connection string src as a value (not
 * as an option name: at the start, after white space, '?' or '&', and followed by
 * '=')? A single character ("=", "]") is libpq's own punctuation. */
static int quoted_from(const char *src, const char *p, size_t n)
{
    if (n < 2)
        return 0;
    for (const char *hit = src; *hit; hit++) {
        if (strncmp(hit, p, n) != 0)
            continue;
        const char *after = hit + n;
        while (*after == ' ' || *after == '\t')
            after++;
        int key_start = hit == src || strchr(" \t\n?&", hit[-1]) != NULL;
        if (key_start && *after == '=')
            continue;
        return 1;
    }
    return 0;
}

/* Push libpq's message as one line (newlines and tabs folded, trailing space trimmed),
 * with every occurrence of each secret (a NULL-terminated list) replaced by ***. With
 * `source` (the connection string of a parse error), every "quoted" fragment that was
 * copied from it as a value is replaced by *** as well, the longest one that matches first (a
 * password may itself hold a quote). The one place libpq text becomes a Lua string. */
static void push_clean_message(lua_State *L, const char *msg, const char *const *secrets, const char *source)
{
    luaL_Buffer b;
    int space = 0;
    luaL_buffinit(L, &b);
    for (const char *p = msg ? msg : ""; *p;) {
        size_t skip = 0;
        for (const char *const *sp = secrets; sp && *sp; sp++) {
            size_t slen = strlen(*sp);
            if (slen && strncmp(p, *sp, slen) == 0 && slen > skip)
                skip = slen;
        }
        if (skip) {
            if (space && luaL_bufflen(&b) > 0)
                luaL_addchar(&b, ' ');
            luaL_addstring(&b, "***");
            p += skip;
            space = 0;
            continue;
        }
        if (source && *p == '"') {
            const char *end = NULL;
            const char *line_end = p + 1 + strcspn(p + 1, "\n");
            /* the farthest closing quote whose fragment came from the string */
            for (const char *q = line_end - 1; q > p; q--)
                if (*q == '"' && (size_t)(q - p - 1) <= 4096 && quoted_from(source, p + 1, (size_t)(q - p - 1))) {
                    end = q;
                    break;
                }
            if (end) {
                if (space && luaL_bufflen(&b) > 0)
                    luaL_addchar(&b, ' ');
                luaL_addstring(&b, "\"***\"");
                p = end + 1;
                space = 0;
                continue;
            }
        }
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = 1;
            p++;
            continue;
        }
        if (space && luaL_bufflen(&b) > 0)
            luaL_addchar(&b, ' ');
        space = 0;
        luaL_addchar(&b, *p);
        p++;
    }
    luaL_pushresult(&b);
}

/* A message from the live connection: its password (as libpq used it) redacted. */
static void push_conn_message(lua_State *L, pg_conn *c, const char *msg)
{
    const char *secrets[3] = {c->pg ? PQpass(c->pg) : NULL, c->password, NULL};
    if (secrets[0] == NULL) {
        secrets[0] = secrets[1];
        secrets[1] = NULL;
    }
    push_clean_message(L, msg, secrets, NULL);
}

/* ---- what a method holds (see guard) ---- */

static PGresult *hold(pg_conn *c, int slot, PGresult *res)
{
    if (c->g->res[slot])
        PQclear(c->g->res[slot]);
    c->g->res[slot] = res;
    return res;
}

static void release(pg_conn *c, int slot)
{
    hold(c, slot, NULL);
}

/* After a method raised inside a pipeline: read what is still coming, leave pipeline
 * mode and end the transaction, so the next call starts clean. */
static void recover_pipeline(PGconn *pg)
{
    for (int nulls = 0; nulls < 8;) {
        PGresult *res = PQgetResult(pg);
        if (res == NULL) {
            nulls++;
            continue;
        }
        int sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (sync)
            break;
    }
    PQexitPipelineMode(pg);
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        PQclear(PQexec(pg, "ROLLBACK"));
}

/* libpq's notice processor: keep the text for Lua (see deliver_notices). */
static void keep_notice(void *arg, const char *message)
{
    pg_conn *c = arg;
    char *copy = c->nnotices < MAX_NOTICES ? strdup(message) : NULL;
    if (copy)
        c->notices[c->nnotices++] = copy;
    else
        c->dropped++;
}

static void free_notices(pg_conn *c)
{
    for (int i = 0; i < c->nnotices; i++)
        free(c->notices[i]);
    c->nnotices = 0;
    c->dropped = 0;
}

/* Hands the kept notices to on_notice, oldest first; a notice leaves the C list only
 * once it is a Lua string, so a memory error loses nothing that is not freed later. */
static void deliver_notices(lua_State *L, pg_conn *c)
{
    if (c->on_notice == LUA_NOREF || c->on_notice == 0) {
        free_notices(c);
        return;
    }
    while (c->nnotices > 0 || c->dropped > 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->on_notice);
        if (c->nnotices > 0) {
            push_conn_message(L, c, c->notices[0]);
            free(c->notices[0]);
            memmove(c->notices, c->notices + 1, (size_t)(c->nnotices - 1) * sizeof *c->notices);
            c->nnotices--;
        } else {
            lua_pushfstring(L, "(%d more server notices were dropped)", c->dropped);
            c->dropped = 0;
        }
        lua_call(L, 1, 0);
    }
}

/* Runs body as the method of the conn at index 1, protected: whatever it leaves held
 * is released, an interrupted pipeline repaired, the collector restarted if the body
 * stopped it, notices delivered; then its results are returned or its error raised. */
static int guarded(lua_State *L, lua_CFunction body)
{
    pg_conn *c = check_conn(L, 1);
    guard g = {{NULL, NULL}, 0};
    int nargs = lua_gettop(L);
    lua_pushcfunction(L, body);
    lua_insert(L, 1);
    int gc_running = lua_gc(L, LUA_GCISRUNNING);
    guard *outer = c->g;
    c->g = &g;
    int rc = lua_pcall(L, nargs, LUA_MULTRET, 0);
    c->g = outer;
    if (gc_running && !lua_gc(L, LUA_GCISRUNNING))
        lua_gc(L, LUA_GCRESTART);
    for (int i = 0; i < 2; i++)
        if (g.res[i])
            PQclear(g.res[i]);
    if (g.pipeline && c->pg)
        recover_pipeline(c->pg);
    if (rc != LUA_OK)
        return lua_error(L);
    int nres = lua_gettop(L);
    deliver_notices(L, c);
    return nres;
}

static const char *result_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* fail, message, sqlstate from a failed result (or the connection's message). */
static int push_result_error(lua_State *L, pg_conn *c, const PGresult *res, const char *what)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (msg == NULL || *msg == '\0')
        msg = PQerrorMessage(c->pg);
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: ", what);
    push_conn_message(L, c, msg);
    lua_concat(L, 2);
    lua_pushstring(L, result_sqlstate(res));
    return 3;
}

/* Receives the main query's rows: in single-row mode once per row, else once. */
typedef void (*rows_fn)(lua_State *L, const PGresult *res, void *ud);

/* Run `query` inside BEGIN READ ONLY ... COMMIT as one round trip (pipeline mode).
 * With `each`, the query runs in single-row mode and every row goes to each(L, res,
 * ud) as it arrives, so a big catalog never sits in memory twice (PGresult + Lua);
 * returns 1 on success. Without it, the whole result is held in guard slot 0. On
 * failure returns 0 with the failed result in slot 1 (NULL when the connection itself
 * broke). Only inside guarded(): a row callback that raises leaves nothing behind. */
static int run_read_only(lua_State *L, pg_conn *c, const char *query, int nparams,
                         const char *const *params, rows_fn each, void *ud)
{
    PGconn *pg = c->pg;
    PGresult *res;
    int stage = 0, ok = 1, have_out = 0;
    release(c, 0);
    release(c, 1);
    if (!PQenterPipelineMode(pg))
        return 0;
    c->g->pipeline = 1;
    if (!PQsendQueryParams(pg, "BEGIN READ ONLY", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsendQueryParams(pg, query, nparams, NULL, params, NULL, NULL, 0) ||
        !PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(pg)) {
        PQexitPipelineMode(pg);
        c->g->pipeline = 0;
        return 0;
    }
    /* Results arrive per query, each followed by NULL; the sync ends the pipeline. */
    for (;;) {
        res = PQgetResult(pg);
        if (res == NULL) {
            if (stage >= 3)
                break;
            stage++;
            if (stage == 1 && each)
                PQsetSingleRowMode(pg); /* applies to the query whose results come next */
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if (st == PGRES_FATAL_ERROR && ok) {
            ok = 0;
            hold(c, 1, res);
            continue;
        }
        if (stage == 1 && ok && (st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE)) {
            if (each) {
                hold(c, 0, res); /* cleared by guarded() if each raises */
                each(L, res, ud);
                release(c, 0);
                continue;
            } else if (!have_out) {
                hold(c, 0, res);
                have_out = 1;
                continue;
            }
        }
        PQclear(res);
    }
    PQexitPipelineMode(pg);
    c->g->pipeline = 0;
    if (!ok) {
        release(c, 0);
        /* A failed statement leaves the transaction aborted; end it. */
        if (PQtransactionStatus(pg) != PQTRANS_IDLE)
            PQclear(PQexec(pg, "ROLLBACK"));
        return 0;
    }
    return 1;
}

/* run_read_only for a whole result: the PGresult (held in slot 0), or NULL with the
 * failed one in slot 1. */
static PGresult *read_all(lua_State *L, pg_conn *c, const char *query, int nparams,
                          const char *const *params)
{
    if (!run_read_only(L, c, query, nparams, params, NULL, NULL))
        return NULL;
    if (c->g->res[0] == NULL)
        hold(c, 0, PQmakeEmptyPGresult(c->pg, PGRES_TUPLES_OK));
    return c->g->res[0];
}

/* fail, message, sqlstate for the failed read in slot 1. */
static int read_failed(lua_State *L, pg_conn *c, const char *what)
{
    return push_result_error(L, c, c->g->res[1], what);
}

static void set_str(lua_State *L, const char *key, const char *value)
{
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

/* Field as a Lua string (NULL → nil) pushed on the stack. */
static void push_field(lua_State *L, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        lua_pushnil(L);
    else
        lua_pushlstring(L, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

static void set_field(lua_State *L, const PGresult *res, int row, int col, const char *key)
{
    if (PQgetisnull(res, row, col))
        return; /* nil fields are simply absent */
    push_field(L, res, row, col);
    lua_setfield(L, -2, key);
}

static void set_int_field(lua_State *L, const PGresult *res, int row, int col, const char *key)
{
    if (PQgetisnull(res, row, col))
        return;
    lua_pushinteger(L, (lua_Integer)strtoll(PQgetvalue(res, row, col), NULL, 10));
    lua_setfield(L, -2, key);
}

static int field_bool(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

static const char *kind_name(char relkind)
{
    switch (relkind) {
    case 'r': return "table";
    case 'p': return "partitioned_table";
    case 'v': return "view";
    case 'm': return "materialized_view";
    case 'f': return "foreign_table";
    default: return "other";
    }
}

/* A PostgreSQL text[] literal for a list of strings: {"a","b\"c"}. */
static void push_text_array(lua_State *L, int idx)
{
    luaL_Buffer b;
    lua_Integer n = luaL_len(L, idx);
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, idx, i);
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (s == NULL)
            luaL_error(L, "schema names must be strings (item %d)", (int)i);
        lua_pop(L, 1); /* the string stays reachable from the table */
        if (i > 1)
            luaL_addchar(&b, ',');
        luaL_addchar(&b, '"');
        for (size_t k = 0; k < len; k++) {
            if (s[k] == '"' || s[k] == '\\')
                luaL_addchar(&b, '\\');
            luaL_addchar(&b, s[k]);
        }
        luaL_addchar(&b, '"');
    }
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
}

/* The optional schema list argument at idx as a text[] literal ($1 of the catalog and
 * all-foreign-keys queries), left on the stack; NULL (every schema) when absent. */
static const char *opt_schema_list(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    push_text_array(L, idx);
    return lua_tostring(L, -1);
}

/* ---------------------------------------------------------------- connect */

static const char *option_value(PQconninfoOption *opts, const char *key)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0)
            return (o->val && *o->val) ? o->val : NULL;
    return NULL;
}

/* Parse the user's string (may be NULL): options table or NULL with a message pushed. */
/* libpq memory held while Lua values are built from it: a userdata whose __gc frees
 * it, so an out-of-memory error unwinding past the C code leaks nothing. */
typedef struct {
    PQconninfoOption *opts[2];
    char *errmsg;
} pq_box;

static void pq_box_release(pq_box *b)
{
    for (int i = 0; i < 2; i++) {
        if (b->opts[i])
            PQconninfoFree(b->opts[i]);
        b->opts[i] = NULL;
    }
    if (b->errmsg)
        PQfreemem(b->errmsg);
    b->errmsg = NULL;
}

static int pq_box_gc(lua_State *L)
{
    pq_box_release(lua_touserdata(L, 1));
    return 0;
}

static pq_box *new_pq_box(lua_State *L)
{
    return sparkgen_box(L, sizeof(pq_box), "sparkgen.pg.box", pq_box_gc);
}

/* Parse the user's string (may be NULL) into box->opts[0]; on failure it is NULL and
 * the message is pushed. The box (on the stack below) owns what libpq allocated. */
static PQconninfoOption *parse_conninfo(lua_State *L, pq_box *box, const char *conninfo)
{
    box->opts[0] = PQconninfoParse(conninfo && *conninfo ? conninfo : "", &box->errmsg);
    if (box->opts[0] == NULL) {
        lua_pushliteral(L, "invalid PostgreSQL connection string: ");
        /* libpq quotes parts of the string (a percent-encoded password, a value
         * without its key); a string that does not parse has no reliable password, so
         * every fragment quoted from it goes. */
        push_clean_message(L, box->errmsg ? box->errmsg : "out of memory", NULL, conninfo ? conninfo : "");
        lua_concat(L, 2);
    }
    return box->opts[0];
}

/* Waits for the socket as PQconnectPoll asks, up to deadline_ms (0 = none). */
static int wait_socket(PGconn *pg, int for_write, long long deadline_ms)
{
    struct pollfd pfd = {PQsocket(pg), (short)(for_write ? POLLOUT : POLLIN), 0};
    if (pfd.fd < 0)
        return 0;
    for (;;) {
        int timeout = -1;
        if (deadline_ms) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            long long left = deadline_ms - ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
            if (left <= 0)
                return 0;
            timeout = left > 1000000 ? 1000000 : (int)left;
        }
        int r = poll(&pfd, 1, timeout);
        if (r > 0)
            return 1;
        if (r == 0 || errno != EINTR)
            return 0;
    }
}

static int l_pg_connect(lua_State *L)
{
    const char *conninfo = luaL_optstring(L, 1, NULL);
    lua_Integer timeout_ms = 30000, connect_timeout_s = 10;
    int has_callback = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "statement_timeout_ms") != LUA_TNIL)
            timeout_ms = luaL_checkinteger(L, -1);
        if (lua_getfield(L, 2, "connect_timeout_s") != LUA_TNIL)
            connect_timeout_s = luaL_checkinteger(L, -1);
        if (lua_getfield(L, 2, "on_notice") != LUA_TNIL) {
            luaL_checktype(L, -1, LUA_TFUNCTION);
            has_callback = 1;
        }
        lua_pop(L, 3);
    }
    luaL_argcheck(L, timeout_ms >= 0, 2, "statement_timeout_ms must be >= 0");
    luaL_argcheck(L, connect_timeout_s >= 0 && connect_timeout_s <= 86400, 2,
                  "connect_timeout_s must be between 0 and 86400");

    /* The handle exists before libpq's connection, so notices sent while connecting
     * are kept too, and __gc frees whatever an error leaves. */
    pg_conn *c = (pg_conn *)lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->on_notice = LUA_NOREF;
    luaL_setmetatable(L, CONN_MT);
    int conn_idx = lua_gettop(L);
    if (has_callback) {
        lua_getfield(L, 2, "on_notice");
        c->on_notice = luaL_ref(L, LUA_REGISTRYINDEX);
    }

    pq_box *box = new_pq_box(L);
    PQconninfoOption *parsed = parse_conninfo(L, box, conninfo);
    if (parsed == NULL) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        lua_pushliteral(L, "08001");
        return 3;
    }
    /* The user's own options (or PGOPTIONS) are kept. The tuning comes first, so a user
     * can override it: no JIT (compiling the catalog query cost 0.3-0.6 s at 10,000
     * tables and gains nothing on a catalog read) and enough work_mem to sort a big
     * catalog's rows in memory (10,000 tables spilled 37 MB to disk at the default
     * 4 MB). The safety settings come last and win. Built to any length: a truncated
     * string would silently drop the read-only setting. */
    const char *user_options = option_value(parsed, "options");
    if (user_options == NULL)
        user_options = getenv("PGOPTIONS");
    const char *options = lua_pushfstring(L, "-c jit=off -c work_mem=64MB %s%s-c default_transaction_read_only=on -c statement_timeout=%I",
                                          user_options ? user_options : "", user_options ? " " : "",
                                          (lua_Integer)timeout_ms);
    const char *password = option_value(parsed, "password");
    if (password)
        lua_pushstring(L, password); /* kept alive on the stack while connecting */
    c->password = password ? lua_tostring(L, -1) : NULL;
    pq_box_release(box);

    const char *keys[6], *vals[6];
    int n = 0;
    if (conninfo && *conninfo) {
        /* expand_dbname: the first dbname is the whole user string, expanded by libpq;
         * the keywords after it override what it set. */
        keys[n] = "dbname"; vals[n++] = conninfo;
    }
    keys[n] = "options"; vals[n++] = options;
    keys[n] = "application_name"; vals[n++] = "sparkgen";
    keys[n] = "client_encoding"; vals[n++] = "UTF8";
    keys[n] = NULL; vals[n] = NULL;

    /* Started and polled here (not PQconnectdbParams) so the notice processor is in
     * place before the server says anything; connect_timeout_s bounds the whole. */
    PGconn *pg = PQconnectStartParams(keys, vals, 1);
    if (pg == NULL) {
        luaL_pushfail(L);
        lua_pushliteral(L, "cannot connect to PostgreSQL: out of memory");
        lua_pushliteral(L, "08001");
        return 3;
    }
    c->pg = pg;
    PQsetNoticeProcessor(pg, keep_notice, c);
    long long deadline = 0;
    if (connect_timeout_s > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        deadline = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (long long)connect_timeout_s * 1000;
    }
    const char *timed_out = NULL;
    PostgresPollingStatusType poll_state = PGRES_POLLING_WRITING;
    while (PQstatus(pg) != CONNECTION_BAD && poll_state != PGRES_POLLING_OK && poll_state != PGRES_POLLING_FAILED) {
        if (!wait_socket(pg, poll_state == PGRES_POLLING_WRITING, deadline)) {
            timed_out = "timeout expired";
            break;
        }
        poll_state = PQconnectPoll(pg);
    }
    if (timed_out || PQstatus(pg) != CONNECTION_OK) {
        const char *host = PQhost(pg), *port = PQport(pg), *db = PQdb(pg), *user = PQuser(pg);
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot connect to PostgreSQL (host=%s port=%s dbname=%s user=%s): ",
                        host && *host ? host : "(default)", port && *port ? port : "(default)",
                        db && *db ? db : "(default)", user && *user ? user : "(default)");
        push_conn_message(L, c, timed_out ? timed_out : PQerrorMessage(pg));
        lua_concat(L, 2);
        lua_pushliteral(L, "08001");
        c->password = NULL;
        PQfinish(pg);
        c->pg = NULL;
        free_notices(c);
        return 3;
    }
    c->password = NULL;
    lua_settop(L, conn_idx);
    deliver_notices(L, c);
    return 1;
}

/* host/port/dbname/user the way libpq would resolve them, without connecting. */
/* The connection a string names, resolved as libpq does before connecting (the string,
 * then the PG* variables, then libpq's defaults), without connecting. With `secrets`,
 * the password and sslmode are included: that is for handing credentials to a child
 * process's environment (spark.lua), never for logs or cache keys. */
static int push_resolved(lua_State *L, const char *conninfo, int secrets)
{
    pq_box *box = new_pq_box(L);
    PQconninfoOption *parsed = parse_conninfo(L, box, conninfo);
    if (parsed == NULL) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    PQconninfoOption *defaults = box->opts[1] = PQconndefaults(); /* includes PG* variables */
    static const char *const keys[] = {"host", "hostaddr", "port", "dbname", "user", "service",
                                       "password", "sslmode"};
    enum { HOST, HOSTADDR, PORT, DBNAME, USER, SERVICE, PASSWORD, SSLMODE, NKEYS };
    const char *vals[NKEYS];
    for (int i = 0; i < NKEYS; i++) {
        vals[i] = option_value(parsed, keys[i]);
        if (vals[i] == NULL)
            vals[i] = option_value(defaults, keys[i]);
    }
    const char *host = vals[HOST] ? vals[HOST] : vals[HOSTADDR];
    const char *user = vals[USER];
    lua_createtable(L, 0, 7);
    set_str(L, "host", host ? host : "/var/run/postgresql");
    set_str(L, "port", vals[PORT] ? vals[PORT] : "5432");
    set_str(L, "user", user ? user : "");
    set_str(L, "dbname", vals[DBNAME] ? vals[DBNAME] : (user ? user : ""));
    if (vals[SERVICE])
        set_str(L, "service", vals[SERVICE]);
    if (secrets && vals[PASSWORD] && *vals[PASSWORD])
        set_str(L, "password", vals[PASSWORD]);
    if (secrets && vals[SSLMODE])
        set_str(L, "sslmode", vals[SSLMODE]);
    pq_box_release(box);
    return 1;
}

/* pg.identity(conninfo|nil) -> {host, port, dbname, user[, service]}: who and where,
 * never the password (the schema cache key). */
static int l_pg_identity(lua_State *L)
{
    return push_resolved(L, luaL_optstring(L, 1, NULL), 0);
}

/* pg.resolve(conninfo|nil) -> identity plus password and sslmode when set. */
static int l_pg_resolve(lua_State *L)
{
    return push_resolved(L, luaL_optstring(L, 1, NULL), 1);
}

/* ---------------------------------------------------------------- conn methods */

/* Building the tables list row by row. The rows come in no particular order (the
 * query has no ORDER BY, so the server streams them while it computes and the client
 * decodes at the same time), though a table's rows mostly come together. The stack
 * holds, from `list`: the list, oid -> index in the list, the set of "pending" indexes
 * (tables whose rows came apart or whose columns came out of order: they are finished
 * at the end), then while a table is open: table, columns, primary key.
 * on_table gets a table when its rows stop coming, unless it is pending, and every
 * pending table once at the end: at most twice per table however the rows interleave
 * (a plan that interleaves them, e.g. with work_mem=4MB, would otherwise hand over a
 * table at every switch). */
typedef struct {
    int list;                 /* stack index of the result list */
    lua_Integer ntables, ncols;
    lua_Integer index;        /* the open table's index in the list */
    lua_Integer last_attnum;  /* the open table's last column so far */
    unsigned long prev_oid;
    int open;                 /* a table is on the stack */
    int on_table;             /* stack index of the on_table callback, or 0 */
} catalog_state;

/* Hand the table at `t` to on_table, if there is one. */
static void table_done(lua_State *L, const catalog_state *cs, int t)
{
    if (!cs->on_table)
        return;
    luaL_checkstack(L, 3, "on_table");
    lua_pushvalue(L, cs->on_table);
    lua_pushvalue(L, t);
    lua_call(L, 1, 0);
}

/* Make the table of row r (oid) the open one: the one already in the list, or a new
 * one from the row's table fields. */
static void open_table(lua_State *L, catalog_state *cs, const PGresult *res, int r, unsigned long oid)
{
    int list = cs->list;
    if (cs->open && lua_rawgeti(L, list + 2, cs->index) == LUA_TNIL)
        table_done(L, cs, list + 3);
    lua_settop(L, list + 2);
    cs->prev_oid = oid;
    cs->open = 1;
    if (lua_rawgeti(L, list + 1, (lua_Integer)oid) == LUA_TNUMBER) {
        /* its rows came apart: pending */
        cs->index = lua_tointeger(L, -1);
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_rawseti(L, list + 2, cs->index);
        lua_rawgeti(L, list, cs->index);
        lua_getfield(L, list + 3, "columns");
        lua_getfield(L, list + 3, "primary_key");
        cs->ncols = (lua_Integer)lua_rawlen(L, list + 4);
        cs->last_attnum = 0;
        if (cs->ncols > 0) {
            lua_rawgeti(L, list + 4, cs->ncols);
            lua_getfield(L, -1, "position");
            cs->last_attnum = lua_tointeger(L, -1);
            lua_pop(L, 2);
        }
        return;
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 8);
    set_field(L, res, r, 1, "schema");
    set_field(L, res, r, 2, "name");
    set_str(L, "kind", kind_name(PQgetvalue(res, r, 3)[0]));
    set_int_field(L, res, r, 4, "rows");
    set_field(L, res, r, 5, "comment");
    lua_pushvalue(L, -1);
    cs->index = ++cs->ntables;
    lua_rawseti(L, list, cs->index);
    lua_pushinteger(L, cs->index);
    lua_rawseti(L, list + 1, (lua_Integer)oid);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, list + 3, "columns");
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, list + 3, "primary_key");
    cs->ncols = 0;
    cs->last_attnum = 0;
}

static void catalog_rows(lua_State *L, const PGresult *res, void *ud)
{
    catalog_state *cs = (catalog_state *)ud;
    int nrows = PQntuples(res);
    for (int r = 0; r < nrows; r++) {
        unsigned long oid = strtoul(PQgetvalue(res, r, 0), NULL, 10);
        if (!cs->open || oid != cs->prev_oid)
            open_table(L, cs, res, r, oid);
        if (PQgetisnull(res, r, 6))
            continue; /* a table without columns */
        lua_Integer attnum = (lua_Integer)strtoll(PQgetvalue(res, r, 7), NULL, 10);
        if (attnum < cs->last_attnum) {
            lua_pushboolean(L, 1);
            lua_rawseti(L, cs->list + 2, cs->index);
        }
        cs->last_attnum = attnum;
        /* Four keys always (name, position, type, nullable); default, generated (only
         * when true) and comment when present: most columns fit the smallest table. */
        lua_createtable(L, 0, 4);
        set_field(L, res, r, 6, "name");
        lua_pushinteger(L, attnum);
        lua_setfield(L, -2, "position");
        set_field(L, res, r, 8, "type");
        lua_pushboolean(L, !field_bool(res, r, 9));
        lua_setfield(L, -2, "nullable");
        set_field(L, res, r, 10, "default");
        if (field_bool(res, r, 11)) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "generated");
        }
        set_field(L, res, r, 12, "comment");
        lua_rawseti(L, cs->list + 4, ++cs->ncols);
        if (!PQgetisnull(res, r, 13)) {
            push_field(L, res, r, 6);
            lua_rawseti(L, cs->list + 5, (lua_Integer)strtoll(PQgetvalue(res, r, 13), NULL, 10));
        }
    }
}

typedef struct {
    lua_Integer position, index;
} column_key;

static int compare_columns(const void *a, const void *b)
{
    const column_key *x = a, *y = b;
    return (x->position > y->position) - (x->position < y->position);
}

/* Put the columns of the table at `t` in position order (their rows came out of
 * order). The keys live in a userdata, so a memory error leaves nothing behind. */
static void sort_columns(lua_State *L, int t)
{
    lua_getfield(L, t, "columns");
    int cols = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, cols);
    column_key *keys = lua_newuserdatauv(L, (size_t)n * sizeof *keys, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, cols, i + 1);
        lua_getfield(L, -1, "position");
        keys[i].position = lua_tointeger(L, -1);
        keys[i].index = i + 1;
        lua_pop(L, 2);
    }
    qsort(keys, (size_t)n, sizeof *keys, compare_columns);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, cols, keys[i].index);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, t, "columns");
    lua_settop(L, cols - 1);
}

/* Every pending table (the set at list + 2): its columns in position order, then
 * handed to on_table. */
static void finish_pending(lua_State *L, const catalog_state *cs)
{
    lua_pushnil(L);
    while (lua_next(L, cs->list + 2)) {
        lua_pop(L, 1);
        lua_rawgeti(L, cs->list, lua_tointeger(L, -1));
        sort_columns(L, lua_gettop(L));
        table_done(L, cs, lua_gettop(L));
        lua_pop(L, 1);
    }
}

typedef struct {
    const char *schema, *name;
    lua_Integer index;
} table_key;

static int compare_tables(const void *a, const void *b)
{
    const table_key *x = a, *y = b;
    int c = strcmp(x->schema, y->schema);
    return c ? c : strcmp(x->name, y->name);
}

/* Replace the list at `list` (n tables) by the same tables sorted by schema then name,
 * in byte order, as PostgreSQL sorts its "name" type. The keys live in a userdata, so
 * a memory error anywhere leaves nothing behind; the strings stay alive because the
 * tables holding them are in the list throughout. */
static void sort_tables(lua_State *L, int list, lua_Integer n)
{
    if (n < 2)
        return;
    table_key *keys = lua_newuserdatauv(L, (size_t)n * sizeof *keys, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, list, i + 1);
        lua_getfield(L, -1, "schema");
        lua_getfield(L, -2, "name");
        keys[i].schema = lua_tostring(L, -2);
        keys[i].name = lua_tostring(L, -1);
        keys[i].index = i + 1;
        lua_pop(L, 3);
        if (keys[i].schema == NULL || keys[i].name == NULL)
            luaL_error(L, "catalog row without a schema or name");
    }
    qsort(keys, (size_t)n, sizeof *keys, compare_tables);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, list, keys[i].index);
        lua_rawseti(L, -2, i + 1);
    }
    lua_replace(L, list);
    lua_pop(L, 1); /* the keys */
}

static int catalog_body(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    int on_table = 0;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TFUNCTION);
        on_table = 3;
    }
    lua_settop(L, 3);
    const char *param = opt_schema_list(L, 2);
    luaL_checkstack(L, 8, "catalog");
    lua_newtable(L);
    catalog_state cs = {lua_gettop(L), 0, 0, 0, 0, 0, 0, on_table};
    lua_newtable(L); /* oid -> index */
    lua_newtable(L); /* indexes of tables whose columns came out of order */
    /* Everything built here stays alive, so collection cycles would only cost time;
     * guarded() restarts the collector, even when a row raises. */
    lua_gc(L, LUA_GCSTOP);
    int ok = run_read_only(L, c, CATALOG_SQL, 1, &param, catalog_rows, &cs);
    if (!ok) {
        lua_settop(L, cs.list - 1);
        return read_failed(L, c, "reading the catalog failed");
    }
    if (cs.open && lua_rawgeti(L, cs.list + 2, cs.index) == LUA_TNIL)
        table_done(L, &cs, cs.list + 3);
    lua_settop(L, cs.list + 2);
    finish_pending(L, &cs);
    lua_settop(L, cs.list);
    sort_tables(L, cs.list, cs.ntables);
    return 1;
}

static int l_conn_catalog(lua_State *L)
{
    return guarded(L, catalog_body);
}

/* {outgoing = {fk...}, incoming = {fk...}} from rows shaped like FOREIGN_KEYS_SQL's:
 * a key starts at ordinal 1 and its column pairs follow in order. */
static void push_foreign_keys(lua_State *L, const PGresult *res)
{
    lua_createtable(L, 0, 2);
    lua_newtable(L);
    int out_idx = lua_gettop(L);
    lua_newtable(L);
    int in_idx = lua_gettop(L);
    lua_Integer nout = 0, nin = 0, ncols = 0;
    int nrows = PQntuples(res), have_fk = 0;
    for (int r = 0; r < nrows; r++) {
        if (strcmp(PQgetvalue(res, r, 9), "1") == 0) {
            if (have_fk)
                lua_pop(L, 3);
            lua_createtable(L, 0, 7);
            set_field(L, res, r, 2, "name");
            set_field(L, res, r, 3, "schema");
            set_field(L, res, r, 4, "table");
            set_field(L, res, r, 5, "ref_schema");
            set_field(L, res, r, 6, "ref_table");
            if (field_bool(res, r, 0)) {
                lua_pushvalue(L, -1);
                lua_rawseti(L, out_idx, ++nout);
            }
            if (field_bool(res, r, 1)) {
                lua_pushvalue(L, -1);
                lua_rawseti(L, in_idx, ++nin);
            }
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, "columns");
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -4, "ref_columns");
            have_fk = 1;
            ncols = 0;
        }
        if (!have_fk)
            continue;
        ncols++;
        push_field(L, res, r, 7);
        lua_rawseti(L, -3, ncols);
        push_field(L, res, r, 8);
        lua_rawseti(L, -2, ncols);
    }
    if (have_fk)
        lua_pop(L, 3);
    lua_setfield(L, -3, "incoming");
    lua_setfield(L, -2, "outgoing");
}

static int foreign_keys_body(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    const char *params[2] = {luaL_checkstring(L, 2), luaL_checkstring(L, 3)};
    /* Existence first, in the same read, so a missing table is an error, not "no keys". */
    PGresult *res = read_all(L, c,
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relname = $2", 2, params);
    if (res == NULL)
        return read_failed(L, c, "reading foreign keys failed");
    int found = PQntuples(res) > 0;
    release(c, 0);
    if (!found) {
        luaL_pushfail(L);
        lua_pushfstring(L, "no table %s.%s", params[0], params[1]);
        return 2;
    }
    res = read_all(L, c, FOREIGN_KEYS_SQL, 2, params);
    if (res == NULL)
        return read_failed(L, c, "reading foreign keys failed");
    push_foreign_keys(L, res);
    return 1;
}

static int l_conn_foreign_keys(lua_State *L)
{
    return guarded(L, foreign_keys_body);
}

static int all_foreign_keys_body(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    const char *param = opt_schema_list(L, 2);
    PGresult *res = read_all(L, c, ALL_FOREIGN_KEYS_SQL, 1, &param);
    if (res == NULL)
        return read_failed(L, c, "reading foreign keys failed");
    push_foreign_keys(L, res);
    lua_getfield(L, -1, "outgoing");
    return 1;
}

static int l_conn_all_foreign_keys(lua_State *L)
{
    return guarded(L, all_foreign_keys_body);
}

static int stats_body(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    const char *params[3] = {luaL_checkstring(L, 2), luaL_checkstring(L, 3), luaL_optstring(L, 4, NULL)};
    PGresult *res = read_all(L, c, STATS_SQL, 3, params);
    if (res == NULL)
        return read_failed(L, c, "reading statistics failed");
    if (PQntuples(res) == 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "no table %s.%s", params[0], params[1]);
        return 2;
    }
    lua_createtable(L, 0, 4);
    set_int_field(L, res, 0, 1, "rows");
    if (!PQgetisnull(res, 0, 3) && !PQgetisnull(res, 0, 4)) {
        set_field(L, res, 0, 2, "partition_column");
        set_int_field(L, res, 0, 3, "lower");
        set_int_field(L, res, 0, 4, "upper");
    }
    return 1;
}

static int l_conn_stats(lua_State *L)
{
    return guarded(L, stats_body);
}

static int check_read_only_body(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    PGconn *pg = c->pg;
    /* A plain BEGIN: the session default must be what refuses the write. */
    PQclear(PQexec(pg, "BEGIN"));
    PGresult *res = hold(c, 0, PQexec(pg, "CREATE TEMP TABLE sparkgen_read_only_probe (x integer)"));
    ExecStatusType st = PQresultStatus(res);
    PQclear(PQexec(pg, "ROLLBACK"));
    if (st == PGRES_COMMAND_OK) {
        luaL_pushfail(L);
        lua_pushliteral(L, "the connection is not read-only: a write succeeded (rolled back)");
        return 2;
    }
    const char *state = result_sqlstate(res);
    if (strcmp(state, "25006") != 0)
        return push_result_error(L, c, res, "the read-only probe failed unexpectedly");
    lua_pushboolean(L, 1);
    push_conn_message(L, c, PQresultErrorMessage(res));
    lua_pushstring(L, state);
    return 3;
}

static int l_conn_check_read_only(lua_State *L)
{
    return guarded(L, check_read_only_body);
}

static int l_conn_identity(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    lua_createtable(L, 0, 4);
    set_str(L, "host", PQhost(c->pg));
    set_str(L, "port", PQport(c->pg));
    set_str(L, "dbname", PQdb(c->pg));
    set_str(L, "user", PQuser(c->pg));
    return 1;
}

/* conn:credentials() -> identity plus the password libpq actually used (from the string,
 * PGPASSWORD or ~/.pgpass) and sslmode: what a job needs to connect the same way,
 * service files included. Only for a child's environment (spark.lua). */
static int l_conn_credentials(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    l_conn_identity(L);
    const char *pass = PQpass(c->pg);
    if (pass && *pass)
        set_str(L, "password", pass);
    pq_box *box = new_pq_box(L);
    lua_insert(L, -2); /* the box below the result table */
    PQconninfoOption *opts = box->opts[0] = PQconninfo(c->pg);
    if (opts) {
        const char *sslmode = option_value(opts, "sslmode");
        if (sslmode)
            set_str(L, "sslmode", sslmode);
    }
    pq_box_release(box);
    return 1;
}

static int l_conn_server_version(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    lua_pushinteger(L, PQserverVersion(c->pg));
    return 1;
}

static int l_conn_setting(lua_State *L)
{
    pg_conn *c = check_conn(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *params[1] = {name};
    PGresult *res = PQexecParams(c->pg, "SELECT current_setting($1)", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        int r = push_result_error(L, c, res, "cannot read the setting");
        PQclear(res);
        return r;
    }
    lua_pushstring(L, PQgetvalue(res, 0, 0));
    PQclear(res);
    return 1;
}

static int l_conn_close(lua_State *L)
{
    pg_conn *c = (pg_conn *)luaL_checkudata(L, 1, CONN_MT);
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    free_notices(c);
    if (c->on_notice != LUA_NOREF && c->on_notice != 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, c->on_notice);
        c->on_notice = LUA_NOREF;
    }
    return 0;
}

static int l_conn_tostring(lua_State *L)
{
    pg_conn *c = (pg_conn *)luaL_checkudata(L, 1, CONN_MT);
    if (c->pg)
        lua_pushfstring(L, "sparkgen.pg.conn (%s)", PQdb(c->pg));
    else
        lua_pushliteral(L, "sparkgen.pg.conn (closed)");
    return 1;
}

static const luaL_Reg conn_methods[] = {
    {"catalog", l_conn_catalog},
    {"foreign_keys", l_conn_foreign_keys},
    {"all_foreign_keys", l_conn_all_foreign_keys},
    {"stats", l_conn_stats},
    {"check_read_only", l_conn_check_read_only},
    {"identity", l_conn_identity},
    {"credentials", l_conn_credentials},
    {"server_version", l_conn_server_version},
    {"setting", l_conn_setting},
    {"close", l_conn_close},
    {NULL, NULL},
};

static const luaL_Reg conn_meta[] = {
    {"__gc", l_conn_close},
    {"__close", l_conn_close},
    {"__tostring", l_conn_tostring},
    {NULL, NULL},
};

static const luaL_Reg pg_functions[] = {
    {"connect", l_pg_connect},
    {"identity", l_pg_identity},
    {"resolve", l_pg_resolve},
    {NULL, NULL},
};

int luaopen_sparkgen_pg(lua_State *L)
{
    luaL_newmetatable(L, CONN_MT);
    luaL_setfuncs(L, conn_meta, 0);
    luaL_newlib(L, conn_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, pg_functions);
    lua_pushstring(L, CATALOG_SQL);
    lua_setfield(L, -2, "CATALOG_SQL");
    lua_pushstring(L, FOREIGN_KEYS_SQL);
    lua_setfield(L, -2, "FOREIGN_KEYS_SQL");
    lua_pushstring(L, STATS_SQL);
    lua_setfield(L, -2, "STATS_SQL");
    lua_pushinteger(L, PQlibVersion());
    lua_setfield(L, -2, "LIBPQ_VERSION");
    return 1;
}
