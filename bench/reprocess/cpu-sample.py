#!/usr/bin/env python3
# CPU per replayed event, by process, for bench/reprocess: samples utime+stime from /proc every 250 ms
# while the bench's log shows the replay running (from "stored the same ... unmapped in usage" to the
# "reprocess: N stored events mapped" line) and prints seconds and us per event for: the bench process
# (rules runs in it), usage's process, the Postgres backends of each (matched by the client port of
# their connection), Kafka, other Postgres processes. Linux only; run beside the bench, e.g.
#   flock -o /tmp/kana-bench.lock bash -c 'python3 bench/reprocess/cpu-sample.py /tmp/r.log & \
#     RUNS=1 STORED=200000 LIVE=100000 bench/reprocess/run.sh > /tmp/r.log; wait'
import os, sys, time, re, collections, subprocess
log = sys.argv[1]
HZ = os.sysconf('SC_CLK_TCK')
def cpu(pid):
    try:
        f = open(f'/proc/{pid}/stat').read()
        parts = f[f.rfind(')')+2:].split()
        return (int(parts[11]) + int(parts[12])) / HZ
    except Exception:
        return None
def cmd(pid):
    try: return open(f'/proc/{pid}/cmdline','rb').read().replace(b'\0',b' ').decode(errors='replace')
    except Exception: return ''
def sockets():
    m = {}
    for fn in ('/proc/net/tcp','/proc/net/tcp6'):
        for line in open(fn).readlines()[1:]:
            p = line.split()
            lp = int(p[1].split(':')[-1],16); rp = int(p[2].split(':')[-1],16)
            m[p[9]] = (lp, rp)
    return m
def inodes(pid):
    out = []
    try:
        for fd in os.listdir(f'/proc/{pid}/fd'):
            try:
                l = os.readlink(f'/proc/{pid}/fd/{fd}')
                if l.startswith('socket:['): out.append(l[8:-1])
            except Exception: pass
    except Exception: pass
    return out
def classify():
    socks = sockets()
    nodes = {}
    pg = {}
    other = {}
    for d in os.listdir('/proc'):
        if not d.isdigit(): continue
        c = cmd(d)
        if 'bench/reprocess/dist/bench.js' in c: nodes[d] = 'bench+rules'
        elif 'bench/reprocess/dist/usage-process.js' in c: nodes[d] = 'usage'
        elif c.startswith('postgres:'): pg[d] = c
        elif 'kafka' in c and 'java' in c: other[d] = 'kafka'
        elif 'java' in c: other[d] = 'java-other'
    portowner = {}
    for pid, name in nodes.items():
        for ino in inodes(pid):
            if ino in socks and socks[ino][1] == 5432: portowner[socks[ino][0]] = name
    cls = {}
    for pid, name in nodes.items(): cls[pid] = 'node:' + name
    for pid, name in other.items(): cls[pid] = name
    for pid in pg:
        owner = None
        m = re.search(r'\((\d+)\)', pg[pid])
        if m and int(m.group(1)) in portowner: owner = portowner[int(m.group(1))]
        cls[pid] = 'pg:' + (owner or ('bg' if '127.0.0.1' not in pg[pid] else 'other-client'))
    return cls
def wal():
    # Cluster-wide WAL figures (Postgres 14+): records, full-page images, bytes, checkpoints so far.
    import subprocess
    try:
        out = subprocess.run(['psql', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-Atc',
            'SELECT wal_records, wal_fpi, wal_bytes, (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter) FROM pg_stat_wal'],
            capture_output=True, text=True, timeout=10).stdout.strip()
        return [int(x) for x in out.split('|')]
    except Exception:
        return None
state = 'wait'; last = {}; tot = collections.Counter(); t0 = None; live0 = None; livetot = None
started = time.time()
while True:
    if time.time() - started > 1800: print('cpu-sample: no replay seen in 30 minutes; giving up'); break
    text = open(log).read() if os.path.exists(log) else ''
    if 'reprocess: ' not in text and time.time() - started > 180 and not any('bench/reprocess/dist/bench.js' in cmd(d) for d in os.listdir('/proc') if d.isdigit()):
        print('cpu-sample: the bench is not running (it ended or failed before the replay finished)'); break
    if state == 'wait' and 'produced ' in text and 'live: ' not in text and live0 is None:
        # The live phase too (from the produced line to usage's last live record, usage's start included):
        # the replay's CPU per event against the live path's, both from /proc, in one run.
        live0 = time.time(); lcls = classify(); lcpu = {p: cpu(p) for p in lcls}
    if state == 'wait' and live0 is not None and livetot is None and 'live: ' in text:
        livetot = collections.Counter()
        for p, name in classify().items():
            c = cpu(p)
            if c is not None: livetot[name] += c - (lcpu.get(p) or 0)
    if state == 'wait' and 'unmapped in usage' in text:
        state = 'run'; t0 = time.time(); wal0 = wal(); lsn0 = subprocess.run(['psql', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-Atc', 'SELECT pg_current_wal_lsn()'], capture_output=True, text=True).stdout.strip(); cls = classify(); last = {p: cpu(p) for p in cls}
    elif state == 'run':
        cls = classify()
        for p, name in cls.items():
            c = cpu(p)
            if c is None: continue
            if p in last and last[p] is not None: tot[name] += c - last[p]
            last[p] = c
        if 'reprocess: ' in text:
            m = re.search(r'reprocess: (\d+) stored events mapped in ([\d.]+) s', text)
            n = int(m.group(1))
            print(f'window {time.time()-t0:.1f}s events {n}')
            for k, v in sorted(tot.items(), key=lambda x: -x[1]):
                print(f'{k:24s} {v:7.2f} s  {1e6*v/n:6.1f} us/event')
            wal1 = wal()
            if os.environ.get('WAL_LSN_FILE'):
                lsn = lambda: subprocess.run(['psql', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-Atc', 'SELECT pg_current_wal_lsn()'], capture_output=True, text=True).stdout.strip()
                open(os.environ['WAL_LSN_FILE'], 'w').write(f'{lsn0} {lsn()}\n')
            if wal0 and wal1:
                r, f, b, c = (y - x for x, y in zip(wal0, wal1))
                print(f'WAL (whole server) per event: {r/n:.2f} records, {f/n:.3f} full-page images, {b/n:.0f} bytes; {c} checkpoints')
            print(f'{"total":24s} {sum(tot.values()):7.2f} s  {1e6*sum(tot.values())/n:6.1f} us/event')
            m = re.search(r'live: (\d+) events mapped', text)
            if livetot is not None and m:
                ln = int(m.group(1)); lt = sum(v for k, v in livetot.items() if k != 'node:bench+rules')
                print(f'live phase ({ln} events; usage, its Postgres, Kafka; usage start included): {1e6*lt/ln:6.1f} us/event; replay/live CPU {sum(tot.values())/n/(lt/ln):.2f}')
                for k, v in sorted(livetot.items(), key=lambda x: -x[1]):
                    if k != 'node:bench+rules': print(f'  live {k:19s} {v:7.2f} s  {1e6*v/ln:6.1f} us/event')
            break
    time.sleep(0.25)
