"""The pandas baseline for bench/profile.ts: read the CSV, describe(), quantiles and
value_counts, as the profiler computes them. Prints {seconds, maxRssMiB, rows}.
Run with Debian's /usr/bin/python3 (python3-pandas)."""
import json
import resource
import sys
import time

import pandas as pd

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
df.describe(include="all")
numeric = df.select_dtypes("number")
numeric.quantile([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
for column in df.columns:
    df[column].value_counts().head(10)
    df[column].nunique()
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": len(df)}))
