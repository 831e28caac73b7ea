# SPDX-License-Identifier: GPL-2.0
#
# gnuplot -e "nvme='A.dat'; nullb='B.dat'; out='results.png'" plot.gp
#
# Input from bench/report.py: per device, the 4 KiB random read configs at
# depth 256 (psync at 1), both harnesses, as lines of
#   "label" iops cpu_us_per_io color  (color: 1 psync,
# 2 libaio, 3 io_uring, 4 io_uring_cmd, 5 blkbatch). Four panels: IOPS
# (top) and CPU time per I/O (bottom) for NVMe (left) and null_blk (right).

set terminal pngcairo size 1800,1200 font "sans,10"
set output out
# Labels are config names: their underscores are no subscripts.
set termoption noenhanced

set style fill solid 0.85 border -1
set boxwidth 0.8
set grid ytics
set xtics rotate by 90 right scale 0
set key off
set linetype 1 lc rgb "#7f7f7f"
set linetype 2 lc rgb "#ff7f0e"
set linetype 3 lc rgb "#1f77b4"
set linetype 4 lc rgb "#9467bd"
set linetype 5 lc rgb "#2ca02c"

set multiplot layout 2,2 title \
	"4 KiB random reads at depth 256, first 512 MiB, QEMU/TCG guest, median of 3 runs (grey psync, orange libaio, blue io_uring, purple io_uring_cmd, green blkbatch)"

# IOPS spans two orders of magnitude with batching, CPU per I/O three:
# a log scale keeps the small bars visible.
set logscale y
set format y "%g"

# Each bar carries its value; the top quarter of a panel is room for them.
set offsets 0, 0, graph 0.25, 0
iops(y) = y >= 10000 ? sprintf("%.0fk", y / 1000) : sprintf("%.0f", y)
cpu(y) = y >= 100 ? sprintf("%.0f", y) : y >= 10 ? sprintf("%.1f", y) : sprintf("%.2f", y)

set title "NVMe: IOPS"
set ylabel "IOPS"
plot nvme using 0:2:4:xtic(1) with boxes lc variable, \
     '' using 0:2:(iops($2)) with labels rotate by 90 left offset 0,0.3 font ",8"
set title "null_blk: IOPS"
plot nullb using 0:2:4:xtic(1) with boxes lc variable, \
     '' using 0:2:(iops($2)) with labels rotate by 90 left offset 0,0.3 font ",8"

set title "NVMe: CPU time per I/O (getrusage of the whole process)"
set ylabel "CPU µs per I/O"
plot nvme using 0:3:4:xtic(1) with boxes lc variable, \
     '' using 0:3:(cpu($3)) with labels rotate by 90 left offset 0,0.3 font ",8"
set title "null_blk: CPU time per I/O (getrusage of the whole process)"
plot nullb using 0:3:4:xtic(1) with boxes lc variable, \
     '' using 0:3:(cpu($3)) with labels rotate by 90 left offset 0,0.3 font ",8"

unset multiplot
