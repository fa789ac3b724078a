/usr/bin/time -f %U %S %M %e %w %c -o /work/main/bench/results/2026-11-23_234540/wrk.time taskset -c 1 /usr/bin/wrk -t1 -c50 -d10s --latency http://127.0.0.1:36809/
