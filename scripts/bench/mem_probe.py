#!/usr/bin/env python3
"""Where one agent's RSS is, at the moments given (seconds after its API first answers).

Starts one agent with the configuration ../shared/bench/kunai-cluster.sh writes (`deno run -A main.ts
agent start --cfg-dir DIR`, environment passed through: KUNAI_V8_FLAGS, MALLOC_ARENA_MAX...), and at
each moment prints one JSON line: VmRSS, smaps_rollup (RssAnon/RssFile/RssShmem, Pss, dirty), threads by
name, and the resident kB summed per kind of mapping (deno text / rodata / data, anon, [heap], libs).

  python3 scripts/bench/mem_probe.py [--checkout DIR] [--port P] [--top] 3.5 60 180
"""
import json, os, re, shutil, socket, subprocess, sys, tempfile, time

args = sys.argv[1:]
checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
port = 24350
top = False
while args and args[0].startswith("--"):
    a = args.pop(0)
    if a == "--checkout": checkout = args.pop(0)
    elif a == "--port": port = int(args.pop(0))
    elif a == "--top": top = True
moments = [float(x) for x in args] or [3.5, 60, 180]

d = tempfile.mkdtemp(prefix="memprobe-")
for sub in ("etc", "data", "log"): os.makedirs(f"{d}/{sub}")
json.dump({"name": "n0", "port": port, "bind": "127.0.0.1", "addr": "127.0.0.1", "tags": ["linux"],
           "seeds": [], "bootstrap": True, "data": f"{d}/data", "log": f"{d}/log", "lock": f"{d}/kunai.pid",
           "socket": f"{d}/kunai.sock", "log_level": os.environ.get("PROBE_LOG_LEVEL", "ERROR")}, open(f"{d}/etc/local.json", "w"))
out = open(f"{d}/out.log", "w")
p = subprocess.Popen(["deno", "run", "-A", "main.ts", "agent", "start", "--cfg-dir", f"{d}/etc"], cwd=checkout,
                     stdout=out, stderr=subprocess.STDOUT)

def api_ok():
    try:
        s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(f"{d}/kunai.sock")
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); r = s.recv(64); s.close()
        return r.startswith(b"HTTP/1.1 2")
    except OSError:
        return False

def kind(path, perms):
    if path.endswith("/deno") or path.endswith("deno (deleted)"):
        return "deno " + {"r-xp": "text", "r--p": "rodata", "rw-p": "data"}.get(perms, perms)
    if path == "": return "anon " + perms
    if path.startswith("["): return path
    if ".so" in path: return "libs"
    return "other files"

def probe(t):
    pid = p.pid
    roll = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        m = re.match(r"(\w+):\s+(\d+) kB", line)
        if m: roll[m[1]] = round(int(m[2]) / 1024, 1)
    st = {}
    for line in open(f"/proc/{pid}/status"):
        m = re.match(r"(VmRSS|RssAnon|RssFile|RssShmem|Threads):\s+(\d+)", line)
        if m: st[m[1]] = int(m[2])
    kinds = {}; maps = []
    cur = None
    for line in open(f"/proc/{pid}/smaps"):
        h = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$", line)
        if h:
            cur = [kind(h[4].strip(), h[3]), h[3], h[4].strip(), int(h[2], 16) - int(h[1], 16), 0]
            maps.append(cur); continue
        m = re.match(r"Rss:\s+(\d+) kB", line)
        if m and cur: cur[4] = int(m[1])
    for k, _, _, _, rss in maps: kinds[k] = kinds.get(k, 0) + rss
    names = {}
    for t_ in os.listdir(f"/proc/{pid}/task"):
        try: n = open(f"/proc/{pid}/task/{t_}/comm").read().strip()
        except OSError: continue
        n = re.sub(r"\d+$", "#", n); names[n] = names.get(n, 0) + 1
    r = {"t": t, "loadavg": open("/proc/loadavg").read().split()[:3], "rss_mb": round(st["VmRSS"] / 1024, 1),
         "rss_anon_mb": round(st["RssAnon"] / 1024, 1), "rss_file_mb": round(st["RssFile"] / 1024, 1),
         "rss_shmem_mb": round(st["RssShmem"] / 1024, 1), "pss_mb": roll.get("Pss"),
         "private_dirty_mb": roll.get("Private_Dirty"), "threads": st["Threads"], "thread_names": names,
         "kinds_mb": {k: round(v / 1024, 1) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v > 256}}
    if top:
        r["top"] = [[m[0], m[1], m[2][-40:], m[3] // 1024, m[4] // 1024] for m in sorted(maps, key=lambda m: -m[4])[:15]]
    print(json.dumps(r), flush=True)

try:
    t0 = time.time()
    while not api_ok():
        if time.time() - t0 > 60: raise SystemExit("agent did not answer")
        time.sleep(0.1)
    ready = time.time()
    for t in moments:
        time.sleep(max(0, ready + t - time.time()))
        probe(t)
finally:
    p.terminate()
    try: p.wait(10)
    except subprocess.TimeoutExpired: p.kill()
    if os.environ.get("PROBE_KEEP"): print(d, file=sys.stderr)
    else: shutil.rmtree(d, ignore_errors=True)
