/*
 * svg_plot.c - the line-plot writer (see svg_plot.h).
 *
 * The picture is a fixed-size canvas: the plot area on the left, the
 * legend in a column on its right, so a legend can never hide a line.
 * Everything is computed in data units first (the axis ranges and their
 * ticks), then mapped to pixels by two small functions, map_x and map_y.
 */
#include "svg_plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Canvas and plot-area geometry, in SVG pixels.  The canvas is as wide as
 * the legend's longest name needs (see canvas_width). */
enum {
    MIN_WIDTH = 760,
    HEIGHT = 460,
    PLOT_LEFT = 80,   /* room for the y tick labels and the y label */
    PLOT_RIGHT = 560, /* the legend column starts after this */
    PLOT_TOP = 48,    /* room for the title */
    PLOT_BOTTOM = 396 /* room for the x tick labels and the x label */
};

/* Legend: the sample line takes LEGEND_TEXT_X pixels, then the name, at
 * about CHAR_WIDTH pixels per character in a 12 px sans-serif font. */
enum { LEGEND_TEXT_X = 52, CHAR_WIDTH = 7, RIGHT_PADDING = 12 };

/* Roughly how many y ticks to aim for; nice_step decides the exact count. */
enum { Y_TICKS_WANTED = 6, X_TICKS_WANTED = 8, LOG_TICKS_MAX = 12 };

const char *svg_plot_color(size_t i)
{
    /* Okabe & Ito's colour-blind-safe palette without its yellow (too
     * pale on white), then a grey. */
    static const char *const palette[] = {
        "#0072b2", "#d55e00", "#009e73", "#cc79a7",
        "#e69f00", "#56b4e9", "#000000", "#999999",
    };
    return palette[i % (sizeof palette / sizeof palette[0])];
}

/* One axis.  For a log axis the range and the step are in exponents:
 * lo = 0, hi = 10 on a log2 axis means 1 to 1024. */
enum axis_kind { AXIS_LINEAR, AXIS_LOG2, AXIS_LOG10 };

struct axis {
    enum axis_kind kind;
    double lo, hi;
    double step; /* distance between ticks, same units */
};

/* The "nice" tick distance for `range` split in about `wanted` steps:
 * 1, 2 or 5 times a power of ten, so tick labels read 0, 20, 40 ... rather
 * than 0, 17.3, 34.6. */
static double nice_step(double range, int wanted)
{
    double raw = range / wanted;
    double magnitude = pow(10.0, floor(log10(raw)));
    double fraction = raw / magnitude;
    double nice = fraction <= 1.0 ? 1.0 : fraction <= 2.0 ? 2.0 : fraction <= 5.0 ? 5.0 : 10.0;
    return nice * magnitude;
}

/* A linear axis covering [lo, hi], widened to whole ticks. */
static struct axis linear_axis(double lo, double hi, int wanted)
{
    if (!(hi > lo)) { /* one value (all zeros, say), or no data at all */
        lo = isfinite(lo) ? lo : 0.0;
        hi = lo + 1.0;
    }
    struct axis a = { .kind = AXIS_LINEAR, .step = nice_step(hi - lo, wanted) };
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    return a;
}

/* A log axis covering [lo, hi] (both > 0), widened to whole powers. */
static struct axis log_axis(enum axis_kind kind, double lo, double hi)
{
    if (!(lo > 0.0) || !(hi >= lo))
        lo = hi = 1.0;
    double (*to_exp)(double) = kind == AXIS_LOG2 ? log2 : log10;
    struct axis a = { .kind = kind, .lo = floor(to_exp(lo)), .hi = ceil(to_exp(hi)) };
    if (a.hi <= a.lo)
        a.hi = a.lo + 1.0;
    /* Every power if they fit, else every second or third one. */
    a.step = ceil((a.hi - a.lo) / LOG_TICKS_MAX);
    return a;
}

/* Data units to axis units (exponents on a log axis) and back. */
static double to_axis(const struct axis *a, double v)
{
    return a->kind == AXIS_LOG2 ? log2(v) : a->kind == AXIS_LOG10 ? log10(v) : v;
}

static double from_axis(const struct axis *a, double v)
{
    return a->kind == AXIS_LOG2 ? exp2(v) : a->kind == AXIS_LOG10 ? pow(10.0, v) : v;
}

static double map_x(const struct axis *a, double x)
{
    return PLOT_LEFT + (to_axis(a, x) - a->lo) / (a->hi - a->lo) * (PLOT_RIGHT - PLOT_LEFT);
}

static double map_y(const struct axis *a, double y)
{
    return PLOT_BOTTOM - (to_axis(a, y) - a->lo) / (a->hi - a->lo) * (PLOT_BOTTOM - PLOT_TOP);
}

/* Whether point i of `s` can be drawn on these axes: finite, and above 0
 * on a log axis. */
static bool drawable(const struct svg_series *s, size_t i, enum axis_kind x_kind,
                     enum axis_kind y_kind)
{
    return isfinite(s->x[i]) && isfinite(s->y[i]) && (x_kind == AXIS_LINEAR || s->x[i] > 0.0) &&
           (y_kind == AXIS_LINEAR || s->y[i] > 0.0);
}

/* A tick label: 1500000 reads "1.5M", 20000 "20k".  %g also hides the
 * rounding noise of i * step (0.30000000000000004 prints as 0.3). */
static void format_tick(double v, char *buf, size_t len)
{
    double a = fabs(v);
    if (a >= 1e9)
        snprintf(buf, len, "%gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, len, "%gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, len, "%gk", v / 1e3);
    else
        snprintf(buf, len, "%g", v);
}

/* Writes `text` with the five characters XML reserves escaped. */
static void put_text(FILE *f, const char *text)
{
    for (const char *p = text ? text : ""; *p != '\0'; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(*p, f);
        }
    }
}

/* The values at which an axis has ticks, in data units; returns how many
 * (at most `max`).  A linear axis: every step.  A log axis: every power (or
 * every step-th power); a log10 axis spanning at most three decades also
 * gets 2x and 5x ticks, so that it has more than two or three labels.  The
 * count is derived from the range rather than accumulated, so rounding can
 * neither add nor lose a tick. */
static size_t axis_ticks(const struct axis *a, double *ticks, size_t max)
{
    size_t n = 0;
    long count = lround((a->hi - a->lo) / a->step);
    bool in_between = a->kind == AXIS_LOG10 && a->hi - a->lo <= 3.0;
    for (long i = 0; i <= count && n < max; i++) {
        double v = from_axis(a, a->lo + (double)i * a->step);
        ticks[n++] = v;
        if (in_between && i < count) {
            if (n < max) ticks[n++] = 2.0 * v;
            if (n < max) ticks[n++] = 5.0 * v;
        }
    }
    return n;
}

static void write_axes(FILE *f, const struct svg_plot *plot, int width, const struct axis *xa,
                       const struct axis *ya)
{
    char label[32];
    double ticks[64];
    size_t n = axis_ticks(ya, ticks, sizeof ticks / sizeof ticks[0]);
    for (size_t i = 0; i < n; i++) { /* horizontal grid lines, y labels */
        double py = map_y(ya, ticks[i]);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
                PLOT_LEFT, py, PLOT_RIGHT, py);
        format_tick(ticks[i], label, sizeof label);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                PLOT_LEFT - 6, py + 4, label);
    }
    n = axis_ticks(xa, ticks, sizeof ticks / sizeof ticks[0]);
    for (size_t i = 0; i < n; i++) { /* vertical grid lines, x labels */
        double px = map_x(xa, ticks[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e0e0e0\"/>\n",
                px, PLOT_TOP, px, PLOT_BOTTOM);
        /* Powers of two read best whole: 1024, not "1.024k". */
        if (xa->kind == AXIS_LOG2 && ticks[i] >= 1.0)
            snprintf(label, sizeof label, "%.0f", ticks[i]);
        else
            format_tick(ticks[i], label, sizeof label);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                px, PLOT_BOTTOM + 18, label);
    }
    /* The frame on top of the grid. */
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n",
            PLOT_LEFT, PLOT_TOP, PLOT_RIGHT - PLOT_LEFT, PLOT_BOTTOM - PLOT_TOP);

    static const char *const scale_note[] = { "", " (log2 scale)", " (log10 scale)" };
    fprintf(f, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">",
            width / 2);
    put_text(f, plot->title);
    fputs("</text>\n", f);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (PLOT_LEFT + PLOT_RIGHT) / 2,
            PLOT_BOTTOM + 44);
    put_text(f, plot->x_label);
    fprintf(f, "%s</text>\n", scale_note[xa->kind]);
    fprintf(f, "<text transform=\"translate(18 %d) rotate(-90)\" text-anchor=\"middle\">",
            (PLOT_TOP + PLOT_BOTTOM) / 2);
    put_text(f, plot->y_label);
    fprintf(f, "%s</text>\n", scale_note[ya->kind]);
}

static void write_series(FILE *f, const struct svg_series *s, const char *color,
                         const struct axis *xa, const struct axis *ya)
{
    /* One path; a point that cannot be drawn lifts the pen ("M" again). */
    fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"", color,
            s->dashed ? " stroke-dasharray=\"7 4\"" : "");
    bool pen_down = false;
    for (size_t i = 0; i < s->n; i++) {
        if (!drawable(s, i, xa->kind, ya->kind)) {
            pen_down = false;
            continue;
        }
        fprintf(f, "%s%.1f %.1f ", pen_down ? "L" : "M", map_x(xa, s->x[i]), map_y(ya, s->y[i]));
        pen_down = true;
    }
    fputs("\"/>\n", f);
    for (size_t i = 0; i < s->n; i++) {
        if (drawable(s, i, xa->kind, ya->kind))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    map_x(xa, s->x[i]), map_y(ya, s->y[i]), color);
    }
}

static void write_legend_entry(FILE *f, size_t index, const struct svg_series *s,
                               const char *color)
{
    int y = PLOT_TOP + 8 + (int)index * 20;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
            PLOT_RIGHT + 16, y, PLOT_RIGHT + 44, y, color,
            s->dashed ? " stroke-dasharray=\"7 4\"" : "");
    fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"/>\n", PLOT_RIGHT + 30, y, color);
    fprintf(f, "<text x=\"%d\" y=\"%d\">", PLOT_RIGHT + LEGEND_TEXT_X, y + 4);
    put_text(f, s->name);
    fputs("</text>\n", f);
}

/* Canvas width: the plot, then the legend column, wide enough for the
 * longest series name (an estimate: SVG cannot measure text before it is
 * drawn, and a little slack is harmless). */
static int canvas_width(const struct svg_plot *plot)
{
    size_t longest = 0;
    for (size_t k = 0; k < plot->series_count; k++) {
        size_t len = plot->series[k].name ? strlen(plot->series[k].name) : 0;
        if (len > longest)
            longest = len;
    }
    int width = PLOT_RIGHT + LEGEND_TEXT_X + (int)longest * CHAR_WIDTH + RIGHT_PADDING;
    return width > MIN_WIDTH ? width : MIN_WIDTH;
}

int svg_plot_write(const struct svg_plot *plot, const char *path)
{
    /* The data ranges, over every point that can be drawn.  A linear y
     * axis always includes 0: a throughput plot whose axis starts at 3.1M
     * makes a 2% difference look like a factor of two. */
    enum axis_kind x_kind = plot->x_scale == SVG_X_LOG2 ? AXIS_LOG2 : AXIS_LINEAR;
    enum axis_kind y_kind = plot->y_scale == SVG_Y_LOG10 ? AXIS_LOG10 : AXIS_LINEAR;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (size_t k = 0; k < plot->series_count; k++) {
        const struct svg_series *s = &plot->series[k];
        for (size_t i = 0; i < s->n; i++) {
            if (!drawable(s, i, x_kind, y_kind))
                continue;
            xmin = fmin(xmin, s->x[i]);
            xmax = fmax(xmax, s->x[i]);
            ymin = fmin(ymin, s->y[i]);
            ymax = fmax(ymax, s->y[i]);
        }
    }
    struct axis xa = x_kind == AXIS_LINEAR ? linear_axis(xmin, xmax, X_TICKS_WANTED)
                                           : log_axis(x_kind, xmin, xmax);
    struct axis ya = y_kind == AXIS_LINEAR
                         ? linear_axis(fmin(ymin, 0.0), fmax(ymax, 0.0), Y_TICKS_WANTED)
                         : log_axis(y_kind, ymin, ymax);

    int width = canvas_width(plot);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return errno;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, HEIGHT, width, HEIGHT);
    write_axes(f, plot, width, &xa, &ya);
    for (size_t k = 0; k < plot->series_count; k++) {
        const struct svg_series *s = &plot->series[k];
        const char *color = s->color ? s->color : svg_plot_color(k);
        write_series(f, s, color, &xa, &ya);
        write_legend_entry(f, k, s, color);
    }
    fputs("</svg>\n", f);

    int err = ferror(f) ? EIO : 0;
    if (fclose(f) != 0 && err == 0)
        err = errno;
    return err;
}
