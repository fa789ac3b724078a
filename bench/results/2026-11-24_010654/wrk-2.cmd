/usr/bin/time -f %U %S %M %e %w %c -o /work/main/bench/results/2026-11-24_010654/wrk-2.time taskset -c 1 /usr/bin/wrk -t1 -c50 -d10s --latency http://127.0.0.1:46387/
