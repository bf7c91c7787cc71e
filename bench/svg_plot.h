/*
 * svg_plot.h - a tiny line-plot writer for the benchmarks.
 *
 * `make bench` draws a few line plots (throughput against channel
 * capacity, Redis operations per second against threads).  Pulling in a
 * plotting library for that would add a dependency every reader has to
 * install; an SVG file is plain text, so a hundred-odd lines of fprintf do
 * the job and any browser shows the result.
 *
 * What it draws: a title, axis labels, an x axis that is linear or log2
 * (for capacities 1, 2, 4, ... 1024), a y axis that is linear with "nice"
 * ticks (1, 2 or 5 times a power of ten) and always includes 0, or log10
 * (for a throughput that spans three decades, where a linear axis would
 * flatten everything but the largest values), one line per series with a
 * marker on each point, and a legend to the right of the plot.  A NaN
 * value leaves a gap in its line.
 */
#ifndef SVG_PLOT_H
#define SVG_PLOT_H

#include <stdbool.h>
#include <stddef.h>

enum svg_x_scale {
    SVG_X_LINEAR,
    SVG_X_LOG2, /* ticks at powers of two; points with x <= 0 are skipped */
};

enum svg_y_scale {
    SVG_Y_LINEAR, /* starts at 0 (or below, for negative values) */
    SVG_Y_LOG10,  /* for values spanning decades; points with y <= 0 are
                     skipped */
};

struct svg_series {
    const char *name;     /* legend text */
    const double *x;      /* n points: x[i], y[i] */
    const double *y;
    size_t n;
    const char *color;    /* any SVG colour, e.g. "#0072b2"; NULL picks
                             svg_plot_color(index of this series) */
    bool dashed;          /* a dashed line, e.g. for the second of two modes
                             drawn in the same colour */
};

struct svg_plot {
    const char *title;
    const char *x_label;
    const char *y_label;
    enum svg_x_scale x_scale;
    enum svg_y_scale y_scale; /* 0, the default, is linear */
    const struct svg_series *series;
    size_t series_count;
};

/* The i-th colour of the palette (Okabe-Ito, readable by colour-blind
 * readers), wrapping around after eight. */
const char *svg_plot_color(size_t i);

/* Writes `plot` to `path` as a standalone SVG file.  Returns 0, or an errno
 * value if the file could not be written. */
int svg_plot_write(const struct svg_plot *plot, const char *path);

#endif
