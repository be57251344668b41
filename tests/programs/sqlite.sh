#!/usr/bin/env bash
# The sqlite3 shell on ptalloc, compared with sqlite3 on glibc.
#   Debian package: sqlite3
#
# Debian's sqlite3 uses the system malloc with lookaside off, so every
# allocation (and malloc_usable_size) goes to the preloaded library.
# The workload: ~200k rows of pseudo-random (but deterministic: an LCG in a
# recursive CTE) integers, strings and blobs; indexes; joins, group by,
# window functions, big sorts with 2 sorter worker threads, JSON, an FTS5
# full-text index; updates that grow rows, deletes, VACUUM, integrity checks.
# Every query result, and the final database file, must be identical.
source "$(dirname "$0")/common.bash"
need sqlite3
check_preload
cd "$T"

if [ "$QUICK" = 1 ]; then ROWS=40000; DOCS=5000; else ROWS=200000; DOCS=30000; fi

cat >work.sql <<EOF
.bail on
.headers off
.mode list
PRAGMA threads = 2;
PRAGMA cache_size = -65536;
PRAGMA journal_mode = delete;
CREATE TABLE g(grp INTEGER PRIMARY KEY, label TEXT NOT NULL);
CREATE TABLE t(id INTEGER PRIMARY KEY, k INT, grp INT REFERENCES g, name TEXT, payload BLOB, f REAL);
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 96)
INSERT INTO g SELECT i, printf('group-%03d-%s', i, substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26)) FROM c;
WITH RECURSIVE c(i, h) AS (
    SELECT 1, 12345
    UNION ALL
    SELECT i + 1, (h * 1103515245 + 12345) % 2147483648 FROM c WHERE i < $ROWS)
INSERT INTO t SELECT i, h % 100003, h % 97,
       printf('name-%d', (h / 16) % 50021),
       CAST(replace(printf('%.*c', (h / 256) % 64 + 1, '.'), '.', printf('%08x', h)) AS BLOB),
       (h % 100000) / 7.0
  FROM c;
COMMIT;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp_k ON t(grp, k);
SELECT 'rows', count(*), sum(length(payload)), sum(k), total(f) FROM t;
SELECT 'distinct', count(DISTINCT name), count(DISTINCT k), count(DISTINCT payload) FROM t;
SELECT 'group', g.label, count(*), min(t.k), max(t.k), sum(length(t.payload)), round(avg(t.f), 4)
  FROM t JOIN g USING (grp) GROUP BY g.grp ORDER BY g.grp;
SELECT 'topnames', name, count(*) AS n FROM t GROUP BY name ORDER BY n DESC, name LIMIT 20;
SELECT 'concat', grp, length(group_concat(name, ',')), substr(group_concat(id, '+'), 1, 60)
  FROM (SELECT grp, name, id FROM t ORDER BY grp, id) GROUP BY grp HAVING grp % 10 = 0;
SELECT 'window', id, k, rn, running FROM (
    SELECT id, k, row_number() OVER (PARTITION BY grp ORDER BY k, id) AS rn,
           sum(k) OVER (PARTITION BY grp ORDER BY k, id ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) AS running
      FROM t) WHERE rn % 997 = 1 ORDER BY id LIMIT 200;
SELECT 'selfjoin', count(*), sum(a.id - b.id) FROM t AS a JOIN t AS b ON a.k = b.k AND a.id < b.id;
SELECT 'sort', hex(substr(payload, 1, 6)), name FROM t ORDER BY payload DESC, name LIMIT 1 OFFSET $((ROWS / 2));
SELECT 'sorted', count(*), sum(length(x)) FROM (SELECT name || hex(payload) AS x FROM t ORDER BY x);
SELECT 'json', length(j), substr(j, 1, 200) FROM (
    SELECT json_group_array(json_object('id', id, 'name', name, 'k', k)) AS j
      FROM (SELECT * FROM t WHERE grp = 13 ORDER BY id));
SELECT 'jsoneach', count(*), sum(json_extract(value, '\$.k')) FROM json_each(
    (SELECT json_group_array(json_object('k', k)) FROM t WHERE grp < 20));
SELECT 'like', count(*) FROM t WHERE name LIKE '%-1%2%';

CREATE VIRTUAL TABLE docs USING fts5(body);
BEGIN;
WITH RECURSIVE c(i, h) AS (
    SELECT 1, 777
    UNION ALL
    SELECT i + 1, (h * 1103515245 + 12345) % 2147483648 FROM c WHERE i < $DOCS)
INSERT INTO docs(rowid, body) SELECT i,
    printf('w%d w%d x%d y%d %s', h % 300, h % 1700, h % 53, h % 11,
           replace(printf('%.*c', (h / 256) % 20 + 1, '.'), '.', printf(' tok%d', (h / 16) % 977)))
  FROM c;
COMMIT;
SELECT 'fts', count(*) FROM docs WHERE docs MATCH 'w17';
SELECT 'fts', count(*) FROM docs WHERE docs MATCH 'x5 AND y3';
SELECT 'fts', rowid, substr(body, 1, 40) FROM docs WHERE docs MATCH 'tok42 OR tok977 OR w299' ORDER BY rank, rowid LIMIT 10;
INSERT INTO docs(docs) VALUES ('optimize');
SELECT 'fts', count(*) FROM docs WHERE docs MATCH 'tok1*';

BEGIN;
UPDATE t SET payload = payload || payload || payload, name = name || '-updated' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 7 = 0;
INSERT INTO t(k, grp, name, payload, f) SELECT k + 1, grp, name || '-copy', substr(payload, 1, 10), f FROM t WHERE id % 11 = 0;
COMMIT;
SELECT 'after', count(*), sum(length(payload)), sum(k), count(DISTINCT name) FROM t;
PRAGMA integrity_check;
VACUUM;
PRAGMA integrity_check;
SELECT 'final', count(*), sum(length(payload)), max(id) FROM t;
PRAGMA page_count;
PRAGMA freelist_count;
EOF

run_db() {   # side: glibc | pre
    local side=$1 rc=0 t0=$SECONDS
    mkdir -p "$side"
    $side 600 sqlite3 "$side/test.db" <work.sql >"$side/out" 2>&1 || rc=$?
    echo "$rc" >"$side/rc"; echo $((SECONDS - t0)) >"$side/time"
}
run_db glibc
run_db pre
r=$(cat glibc/rc); p=$(cat pre/rc)
echo "  $ROWS rows, $DOCS documents: glibc $(cat glibc/time)s, preloaded $(cat pre/time)s"
status_logs "sqlite3 workload" "$r" "$p" glibc/out pre/out
same "query results" glibc/out pre/out
grep -qx ok glibc/out || bad "integrity_check on glibc did not print ok"

# The databases themselves (after VACUUM) must be byte-identical, and must
# read the same through the other library.
if cmp -s glibc/test.db pre/test.db; then
    ok "database files identical ($(stat -c %s pre/test.db) bytes)"
else
    bad "database file written under ptalloc differs from glibc's"
fi
dump() { "$1" 300 sqlite3 "$2" "PRAGMA integrity_check; SELECT count(*), sum(length(payload)), sum(k) FROM t; SELECT sql FROM sqlite_schema ORDER BY name;" ; }
r=0; p=0
dump glibc pre/test.db   >cross.glibc 2>&1 || r=$?
dump pre   glibc/test.db >cross.pre   2>&1 || p=$?
status "cross-read" "$r" "$p"
same "cross-read" cross.glibc cross.pre

finish
