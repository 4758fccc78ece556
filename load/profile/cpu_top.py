#!/usr/bin/env python3
"""CPU and wall-clock breakdown of a dotnet-trace sampled-thread-time trace (docs/performance.md, session 6).

`dotnet-trace report topN` counts every sampled thread, blocked ones included; this counts only the samples the runtime
marked CPU_TIME, within the worker's window (first to last sample with a PartitionActor frame).

  dotnet-trace convert cpu.nettrace --format Speedscope            # writes cpu.speedscope.speedscope.json
  python3 load/profile/cpu_top.py top FILE [N]                     # inclusive and exclusive top-N of CPU samples
  python3 load/profile/cpu_top.py callers FILE FRAME [DEPTH] [N]   # call chains into frames containing FRAME (CPU samples)
  python3 load/profile/cpu_top.py wall FILE FRAME [DEPTH]          # wall-clock time below FRAME (e.g. KafkaIngest.Loop), blocked included
  python3 load/profile/cpu_top.py stages FILE                      # CPU samples by stage of the budget table (load/profile/stages.tsv)
"""
import collections
import json
import os
import sys


def stages():
    """(stage, pattern) in priority order, from stages.tsv beside this script (shared with AllocTop)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'stages.tsv')
    rules = []
    for line in open(path):
        if line.startswith('#') or not line.strip():
            continue
        stage, pattern = line.rstrip('\n').split('\t')
        rules.append((stage, pattern))
    return rules


def stage_of(names, rules):
    for stage, pattern in rules:
        if any(pattern in n for n in names):
            return stage
    return 'other'


def load(path):
    data = json.load(open(path))
    frames = [f['name'] for f in data['shared']['frames']]
    worker = {i for i, n in enumerate(frames) if 'PartitionActor' in n}
    lo, hi = float('inf'), float('-inf')
    for profile in data['profiles']:
        for e in profile['events']:
            if e['frame'] in worker:
                lo, hi = min(lo, e['at']), max(hi, e['at'])
    return data, frames, lo, hi


def intervals(data, lo, hi):
    """(stack, milliseconds) for every interval of every thread inside the window."""
    for profile in data['profiles']:
        stack, last = [], None
        for e in profile['events']:
            if last is not None and stack:
                a, b = max(last, lo), min(e['at'], hi)
                if b > a:
                    yield stack, b - a
            if e['type'] == 'O':
                stack.append(e['frame'])
            elif e['frame'] in stack:
                del stack[len(stack) - 1 - stack[::-1].index(e['frame']):]
            last = e['at']


def short(name, width=70):
    return name.split('!')[-1][:width]


def main():
    mode, path = sys.argv[1], sys.argv[2]
    data, frames, lo, hi = load(path)
    cpu = {i for i, n in enumerate(frames) if n == 'CPU_TIME'}
    pseudo = cpu | {i for i, n in enumerate(frames) if n == 'UNMANAGED_CODE_TIME'}
    print(f'worker window {hi - lo:.0f} ms')
    if mode == 'top':
        top = int(sys.argv[3]) if len(sys.argv) > 3 else 40
        inclusive, exclusive, total, all_time = collections.Counter(), collections.Counter(), 0.0, 0.0
        for stack, ms in intervals(data, lo, hi):
            all_time += ms
            if not any(f in cpu for f in stack):
                continue
            total += ms
            own = [f for f in stack if f not in pseudo]
            for f in set(own):
                inclusive[f] += ms
            if own:
                exclusive[own[-1]] += ms
        print(f'sampled thread time {all_time:.0f} ms, of which CPU_TIME {total:.0f} ms ({100 * total / all_time:.1f} %)')
        for title, counter in (('inclusive', inclusive), ('exclusive', exclusive)):
            print(f'--- {title} (share of CPU samples)')
            for f, ms in counter.most_common(top):
                print(f'{100 * ms / total:5.1f}%  {frames[f][:150]}')
    elif mode == 'stages':
        rules, by_stage, total = stages(), collections.Counter(), 0.0
        for stack, ms in intervals(data, lo, hi):
            if not any(f in cpu for f in stack):
                continue
            total += ms
            by_stage[stage_of([frames[f] for f in stack if f not in pseudo], rules)] += ms
        print(f'CPU samples {total:.0f} ms')
        for stage, ms in by_stage.most_common():
            print(f'{stage}\t{100 * ms / total:.1f}')
    elif mode in ('callers', 'wall'):
        target = sys.argv[3]
        depth = int(sys.argv[4]) if len(sys.argv) > 4 else 3
        chains, total = collections.Counter(), 0.0
        for stack, ms in intervals(data, lo, hi):
            if mode == 'callers' and not any(f in cpu for f in stack):
                continue
            names = [frames[f] for f in stack if mode == 'wall' or f not in cpu]
            hits = [i for i, n in enumerate(names) if target in n]
            if not hits:
                continue
            i = hits[0]
            total += ms
            if mode == 'callers':
                chains[' <- '.join(short(n) for n in reversed(names[max(0, i - depth):i + 1]))] += ms
            else:
                chains[' > '.join(short(n, 60) for n in names[i + 1:i + 1 + depth]) or '(self)'] += ms
        limit = int(sys.argv[5]) if len(sys.argv) > 5 else 15
        print(f'time with {target} on the stack: {total:.0f} ms')
        for chain, ms in chains.most_common(limit):
            print(f'{100 * ms / total:5.1f}%  {chain}')
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
