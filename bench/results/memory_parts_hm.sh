#!/bin/bash
# HM's light part measurements (each a few s of CPU), run from /work/main; head = git archive 6e3dfb2 in /tmp/hm/head
PY=/work/main/.venv/bin/python
echo "# $(date -u +%FT%TZ) $(cat /proc/loadavg)"
echo "## dataset load, 50k perturbed SciFact docs (one chunk each): head then HEAD ($(git -C /work/main rev-parse --short HEAD))"
for d in /tmp/hm/head /work/main; do (cd $d && $PY - <<'PYEOF'
import sys, time, resource, os
sys.path.insert(0, '.')
def rss():
    for l in open('/proc/self/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])/1024
import pymilvus, milvus_lite
from embedlab.workspace import Workspace
r0 = rss()
ws = Workspace('/tmp/hm/ds50k'); key = next((ws.root/'datasets').iterdir()).name
t = time.time(); ds = ws.load_dataset(key)
print(f"  {os.getcwd()}: +{rss()-r0:.0f} MB RSS, peak +{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024 - r0:.0f}, {time.time()-t:.1f} s; chunk text is the document's string: {ds.chunks[0].text is ds.documents[0].text}")
PYEOF
); done
echo "## model2vec load (bundled), from_pretrained vs static._static_model"
$PY - <<'PYEOF'
import sys, resource
sys.path.insert(0, '.')
def rss():
    for l in open('/proc/self/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])/1024
import model2vec, numpy
from model2vec import StaticModel
from embedlab.embedders.static import _static_model, bundled_model2vec
p = open('/tmp/hm/m2vpath').read().strip()
r0 = rss(); m = _static_model(p)
print(f"  _static_model: +{rss()-r0:.0f} MB RSS, peak +{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024 - r0:.0f}")
PYEOF
$PY - <<'PYEOF'
import sys, resource
def rss():
    for l in open('/proc/self/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])/1024
import model2vec, numpy
from model2vec import StaticModel
p = open('/tmp/hm/m2vpath').read().strip()
r0 = rss(); m = StaticModel.from_pretrained(p)
print(f"  from_pretrained: +{rss()-r0:.0f} MB RSS, peak +{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024 - r0:.0f}")
PYEOF
echo "## PCA preview of minilm's 50k x 384 held vectors (BLAS warmed first): sklearn randomized (head) vs exact blocks (HEAD)"
for d in /tmp/hm/head /work/main; do (cd $d && $PY - <<'PYEOF'
import sys, time, resource, os, ctypes
sys.path.insert(0, '.')
import numpy as np
from pathlib import Path
from embedlab.npz import load_npz
from embedlab.projection import pca_preview
import sklearn.decomposition
def rss():
    for l in open('/proc/self/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])/1024
x = load_npz(Path('/tmp/hm/wcopy/vectors/el_474162dcd6b496ea0cdb424e.npz'))[1][0]
w = np.ones((4096, 384)); w.T @ w; np.linalg.eigh(np.eye(384)); del w
ctypes.CDLL('libc.so.6').malloc_trim(0)
r0 = rss(); p0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024
t = time.time(); y = pca_preview(x)
print(f"  {os.getcwd()}: peak +{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024 - max(p0, r0):.0f} MB over RSS before, {time.time()-t:.2f} s")
PYEOF
); done
echo "## Milvus Lite's first call (list_collections) on a copy of the 50k x 4 workspace (7 collections, 700 MB on disk)"
for e in - MIMALLOC_PURGE_DELAY=0; do $PY /tmp/hm/lite6.py $e 2>&1 | grep -v "^[IE]1207"; done
echo "# $(date -u +%FT%TZ) $(cat /proc/loadavg)"
