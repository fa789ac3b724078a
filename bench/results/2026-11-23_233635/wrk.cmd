/usr/bin/time -f %U %S %M %e %w %c -o /work/main/bench/results/2026-11-23_233635/wrk.time taskset -c 1 /usr/bin/wrk -t1 -c50 -d5s --latency http://127.0.0.1:38587/
