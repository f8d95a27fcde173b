/* htmlreport.c -- renders a prs_jobstats as one self-contained HTML page. See htmlreport.h.
 *
 * Every picture is an inline SVG with a <title>, drawn so that it reads without colour:
 * try outcomes have a pattern each and a labelled legend, lines carry their name at their
 * end and a dash style of their own. The viewBox scales the SVG to the page width (a
 * phone or 1280 px), and the print style fits A4. */
#include "htmlreport.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The plot area inside each chart's viewBox. */
#define W 900.0
#define H 220.0
#define L 70.0  /* left margin: y labels */
#define R 110.0 /* right margin: line names */
#define T 12.0
#define B 34.0 /* bottom margin: x labels */
#define PW (W - L - R)
#define PH (H - T - B)
#define LANE_H 20.0
#define MAX_LANE_LINES 10u /* throughput and CPU lines drawn; the rest summed as "others" */

static const char *const outcome_fill[PRS_TRY_OUTCOMES] = {
    "url(#p-done)", "url(#p-items)", "url(#p-failed)", "url(#p-timeout)", "url(#p-crashed)"};
static const char *const dash[4] = {"", "6 3", "2 2", "8 3 2 3"};

static void esc(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A duration as people read it: "850 ms", "12.5 s", "3:05", "1:02:03". */
static void fmt_duration(char *buf, size_t size, double s) {
    if (s <= 0) {
        snprintf(buf, size, "0 s");
    } else if (s < 0.001) {
        snprintf(buf, size, "%.3g us", s * 1e6);
    } else if (s < 1) {
        snprintf(buf, size, "%.3g ms", s * 1000);
    } else if (s < 120) {
        snprintf(buf, size, "%.3g s", s);
    } else {
        uint64_t t = (uint64_t)(s + 0.5);
        if (t < 3600) {
            snprintf(buf, size, "%u:%02u", (unsigned)(t / 60), (unsigned)(t % 60));
        } else {
            snprintf(buf, size, "%u:%02u:%02u", (unsigned)(t / 3600), (unsigned)(t / 60 % 60),
                     (unsigned)(t % 60));
        }
    }
}

static void fmt_count(char *buf, size_t size, double v) {
    if (v >= 1e9) {
        snprintf(buf, size, "%.3gG", v / 1e9);
    } else if (v >= 1e6) {
        snprintf(buf, size, "%.3gM", v / 1e6);
    } else if (v >= 1e4) {
        snprintf(buf, size, "%.3gk", v / 1e3);
    } else {
        snprintf(buf, size, "%.4g", v);
    }
}

static double bx(uint32_t bucket) {
    return L + (bucket + 0.5) / PRS_JOBSTATS_BUCKETS * PW;
}

static double vy(double v, double max) {
    return T + PH - (max > 0 ? v / max : 0) * PH;
}

static void svg_begin(FILE *f, const char *id, const char *title, double height) {
    fprintf(f, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-labelledby=\"%s-t\">", W, height,
            id);
    fprintf(f, "<title id=\"%s-t\">", id);
    esc(f, title);
    fputs("</title>", f);
}

/* The time axis under a plot whose top is at y0 and bottom at y1. */
static void time_axis(FILE *f, const prs_jobstats *s, double y1) {
    fprintf(f, "<line class=ax x1=%.0f y1=%.1f x2=%.0f y2=%.1f />", L, y1, L + PW, y1);
    for (int k = 0; k <= 4; k++) {
        char d[32];
        fmt_duration(d, sizeof(d), (s->t1_s - s->t0_s) * k / 4);
        fprintf(f, "<text class=tl x=%.1f y=%.1f>%s</text>", L + PW * k / 4, y1 + 16, d);
    }
    fprintf(f, "<text class=tl x=%.1f y=%.1f>time since the first try</text>", L + PW / 2, y1 + 30);
}

static void value_axis(FILE *f, double max, const char *unit) {
    char a[32];
    fmt_count(a, sizeof(a), max);
    fprintf(f, "<line class=ax x1=%.0f y1=%.0f x2=%.0f y2=%.0f />", L, T, L, T + PH);
    fprintf(f, "<text x=%.0f y=%.0f>%s %s</text>", L + 4, T + 10, a, unit);
    fprintf(f, "<text class=vl x=%.0f y=%.0f>0</text>", L - 4, T + PH);
}

/* One line over the buckets, named at its right end. */
static void series(FILE *f, const double *v, double max, const char *name, unsigned style) {
    fprintf(f, "<polyline class=s%u stroke-dasharray=\"%s\" points=\"", style % 4, dash[style % 4]);
    for (uint32_t b = 0; b < PRS_JOBSTATS_BUCKETS; b++)
        fprintf(f, "%.1f,%.1f ", bx(b), vy(v[b], max));
    fputs("\" />", f);
    /* the name in a column at the right, with a sample of the line's dash */
    double y = T + 8 + style * 16.0;
    fprintf(f, "<line class=s%u stroke-dasharray=\"%s\" x1=%.0f y1=%.0f x2=%.0f y2=%.0f />",
            style % 4, dash[style % 4], L + PW + 6, y - 4, L + PW + 30, y - 4);
    fprintf(f, "<text x=%.0f y=%.0f>", L + PW + 34, y);
    esc(f, name);
    fputs("</text>", f);
}

static double max_of(const double *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = PRS_MAX(m, v[i]);
    return m;
}

static void chart_progress(FILE *f, const prs_jobstats *s) {
    double ok[PRS_JOBSTATS_BUCKETS], failed[PRS_JOBSTATS_BUCKETS], a = 0, b = 0;
    for (uint32_t i = 0; i < PRS_JOBSTATS_BUCKETS; i++) {
        ok[i] = a += (double)s->done_items_ok[i];
        failed[i] = b += (double)s->done_items_failed[i];
    }
    double max = PRS_MAX(max_of(ok, PRS_JOBSTATS_BUCKETS), 1.0);
    fputs("<section><h2>Progress</h2><div class=fig>", f);
    svg_begin(f, "progress", "Items succeeded and failed over time (cumulative)", H);
    value_axis(f, max, "items");
    series(f, ok, max, "succeeded", 0);
    series(f, failed, max, "failed", 1);
    time_axis(f, s, T + PH);
    fputs("</svg>", f);
    uint64_t failed_tries = s->tries - s->tries_by_outcome[PRS_TRY_DONE];
    fprintf(f,
            "<table><tr><th>tries finished</th><td>%llu</td></tr>"
            "<tr><th>tries not all done</th><td>%llu</td></tr>"
            "<tr><th>items succeeded</th><td>%llu</td></tr>"
            "<tr><th>items failed</th><td>%llu</td></tr></table></div></section>\n",
            (unsigned long long)s->tries, (unsigned long long)failed_tries,
            (unsigned long long)s->items_ok, (unsigned long long)s->items_failed);
}

/* Lines per worker lane (at most MAX_LANE_LINES; the rest summed into "others"). */
static void lane_lines(FILE *f, const prs_jobstats *s, const double *cells, const char *unit) {
    uint32_t drawn = PRS_MIN(s->workers, MAX_LANE_LINES);
    double v[PRS_JOBSTATS_BUCKETS], others[PRS_JOBSTATS_BUCKETS] = {0};
    double max = PRS_MAX(max_of(cells, (size_t)s->workers * PRS_JOBSTATS_BUCKETS), 1e-9);
    for (uint32_t w = drawn; w < s->workers; w++)
        for (uint32_t b = 0; b < PRS_JOBSTATS_BUCKETS; b++)
            others[b] += cells[w * PRS_JOBSTATS_BUCKETS + b];
    if (drawn < s->workers) max = PRS_MAX(max, max_of(others, PRS_JOBSTATS_BUCKETS));
    value_axis(f, max, unit);
    for (uint32_t w = 0; w < drawn; w++) {
        char name[32];
        snprintf(name, sizeof(name), "worker-%u", w);
        memcpy(v, cells + w * PRS_JOBSTATS_BUCKETS, sizeof(v));
        series(f, v, max, name, w);
    }
    if (drawn < s->workers) series(f, others, max, "others", drawn);
}

static void chart_throughput(FILE *f, const prs_jobstats *s) {
    size_t cells = (size_t)s->workers * PRS_JOBSTATS_BUCKETS;
    double *rate = calloc(cells, sizeof(double));
    if (!rate) return;
    for (size_t i = 0; i < cells; i++)
        rate[i] = (double)s->lane_items[i] / s->bucket_s;
    fputs("<section><h2>Throughput per worker</h2><div class=fig>", f);
    svg_begin(f, "throughput", "Items succeeded per second, per worker", H);
    lane_lines(f, s, rate, "items/s");
    time_axis(f, s, T + PH);
    fputs("</svg><table><tr><th>worker</th><th>items</th><th>busy</th></tr>", f);
    for (uint32_t w = 0; w < s->workers; w++) {
        uint64_t items = 0;
        double busy = 0;
        for (uint32_t b = 0; b < PRS_JOBSTATS_BUCKETS; b++) {
            items += s->lane_items[w * PRS_JOBSTATS_BUCKETS + b];
            busy += s->lane_busy_s[w * PRS_JOBSTATS_BUCKETS + b];
        }
        fprintf(f, "<tr><td>worker-%u</td><td>%llu</td><td>%.0f%%</td></tr>", w,
                (unsigned long long)items, 100 * busy / (s->t1_s - s->t0_s));
    }
    fputs("</table></div></section>\n", f);
    free(rate);
}

static void legend(FILE *f) {
    fputs("<p class=legend>", f);
    for (int o = 0; o < PRS_TRY_OUTCOMES; o++) {
        fprintf(f,
                "<svg class=key viewBox=\"0 0 24 14\" aria-hidden=true><rect width=24 height=14 "
                "fill=\"%s\" stroke=\"#333\" /></svg> %s ",
                outcome_fill[o], prs_jobstats_outcome_name(o));
    }
    fputs("<span class=mark>&#x25BC;</span> crash or timeout reported; "
          "<span class=mark>&#x2506;</span> runtime restart</p>",
          f);
}

/* One bar per try, or past PRS_JOBSTATS_MAX_BARS one cell per lane and bucket: filled
 * with the worst outcome that ended there, its opacity the lane's busy share. */
static void timeline_lanes(FILE *f, const prs_jobstats *s, double y0) {
    double span = s->t1_s - s->t0_s;
    if (s->bars) {
        for (size_t i = 0; i < s->bars_len; i++) {
            const prs_jobstats_try *t = &s->bars[i];
            double x = L + (t->start_s - s->t0_s) / span * PW;
            double w = PRS_MAX(t->elapsed_s / span * PW, 0.6);
            fprintf(f,
                    "<rect x=%.2f y=%.1f width=%.2f height=%.0f fill=\"%s\"><title>batch %llu: "
                    "%s, %.3f s</title></rect>",
                    x, y0 + t->worker * LANE_H + 1, w, LANE_H - 2, outcome_fill[t->outcome],
                    (unsigned long long)t->batch, prs_jobstats_outcome_name(t->outcome),
                    t->elapsed_s);
        }
        return;
    }
    double cell_w = PW / PRS_JOBSTATS_BUCKETS;
    for (uint32_t w = 0; w < s->workers; w++) {
        for (uint32_t b = 0; b < PRS_JOBSTATS_BUCKETS; b++) {
            size_t cell = (size_t)w * PRS_JOBSTATS_BUCKETS + b;
            const uint32_t *oc = s->lane_outcome + cell * PRS_TRY_OUTCOMES;
            int worst = -1;
            for (int o = 0; o < PRS_TRY_OUTCOMES; o++)
                if (oc[o]) worst = o;
            double busy = PRS_MIN(s->lane_busy_s[cell] / s->bucket_s, 1.0);
            if (worst < 0 && busy <= 0) continue;
            fprintf(f, "<rect x=%.2f y=%.1f width=%.2f height=%.0f fill=\"%s\" opacity=%.2f />",
                    L + b * cell_w, y0 + w * LANE_H + 1, cell_w, LANE_H - 2,
                    outcome_fill[worst < 0 ? 0 : worst], 0.25 + 0.75 * busy);
        }
    }
}

static void chart_timeline(FILE *f, const prs_jobstats *s) {
    double y0 = T + LANE_H, lanes_h = s->workers * LANE_H, height = y0 + lanes_h + B;
    double span = s->t1_s - s->t0_s;
    fputs("<section><h2>Timeline per worker</h2>", f);
    legend(f);
    fputs("<div class=wide>", f);
    svg_begin(f, "timeline", "One bar per try and worker, by outcome", height);
    fprintf(f, "<text class=vl x=%.0f y=%.1f>runtime</text>", L - 4, T + LANE_H - 3);
    for (uint32_t w = 0; w < s->workers; w++)
        fprintf(f, "<text class=vl x=%.0f y=%.1f>worker-%u</text>", L - 4,
                y0 + (w + 1) * LANE_H - 3, w);
    timeline_lanes(f, s, y0);
    for (size_t i = 0; i < s->events_len; i++) {
        const prs_jobstats_event *e = &s->events[i];
        fprintf(f, "<text class=mk x=%.1f y=%.1f>&#x25BC;<title>batch %llu %s</title></text>",
                L + (e->time_s - s->t0_s) / span * PW, T + LANE_H - 3, (unsigned long long)e->batch,
                prs_jobstats_outcome_name(e->outcome));
    }
    for (size_t i = 1; i < s->lives_len; i++) {
        double x = L + PRS_MIN(PRS_MAX(s->lives[i].start_s - s->t0_s, 0), span) / span * PW;
        fprintf(f, "<line class=rs x1=%.1f y1=%.1f x2=%.1f y2=%.1f />", x, T, x, y0 + lanes_h);
    }
    time_axis(f, s, y0 + lanes_h);
    fputs("</svg></div><table><tr><th>outcome</th><th>tries</th></tr>", f);
    for (int o = 0; o < PRS_TRY_OUTCOMES; o++)
        fprintf(f, "<tr><td>%s</td><td>%llu</td></tr>", prs_jobstats_outcome_name(o),
                (unsigned long long)s->tries_by_outcome[o]);
    fprintf(f,
            "<tr><td>crashes reported</td><td>%llu</td></tr>"
            "<tr><td>timeouts reported</td><td>%llu</td></tr></table>",
            (unsigned long long)s->crashes, (unsigned long long)s->timeouts);
    if (!s->bars)
        fprintf(f,
                "<p class=note>%llu tries: each cell is one worker over %.3g s, filled with "
                "the worst outcome that ended in it; fainter means less busy.</p>",
                (unsigned long long)s->tries, s->bucket_s);
    fputs("</section>\n", f);
}

static void hist_bars(FILE *f, const uint64_t *h, uint32_t lo, uint32_t hi, double max, double off,
                      const char *fill) {
    double bw = PW / (hi - lo + 1);
    for (uint32_t i = lo; i <= hi; i++) {
        double y = vy((double)h[i], max);
        fprintf(f, "<rect x=%.1f y=%.1f width=%.1f height=%.1f fill=\"%s\" stroke=\"#333\" />",
                L + (i - lo) * bw + off * bw / 2, y, bw / 2 - 1, T + PH - y, fill);
    }
}

static void chart_durations(FILE *f, const prs_jobstats *s) {
    uint32_t lo = PRS_JOBSTATS_HIST_BINS, hi = 0;
    double max = 1;
    for (uint32_t i = 0; i < PRS_JOBSTATS_HIST_BINS; i++) {
        if (s->hist_elapsed[i] || s->hist_run[i]) lo = PRS_MIN(lo, i), hi = PRS_MAX(hi, i);
        max = PRS_MAX(max, (double)PRS_MAX(s->hist_elapsed[i], s->hist_run[i]));
    }
    fputs("<section><h2>Batch durations</h2>", f);
    if (lo > hi) {
        fputs("<p>No try has finished yet.</p></section>\n", f);
        return;
    }
    fputs("<p class=legend><svg class=key viewBox=\"0 0 24 14\" aria-hidden=true><rect "
          "width=24 height=14 fill=\"url(#p-done)\" stroke=\"#333\" /></svg> whole try "
          "<svg class=key viewBox=\"0 0 24 14\" aria-hidden=true><rect width=24 height=14 "
          "fill=\"url(#p-items)\" stroke=\"#333\" /></svg> run() alone</p><div class=fig>",
          f);
    svg_begin(f, "durations", "How many tries took how long (bins double in width)", H);
    value_axis(f, max, "tries");
    hist_bars(f, s->hist_elapsed, lo, hi, max, 0, "url(#p-done)");
    hist_bars(f, s->hist_run, lo, hi, max, 1, "url(#p-items)");
    double bw = PW / (hi - lo + 1);
    for (uint32_t i = lo; i <= hi; i += PRS_MAX(1u, (hi - lo + 6) / 6)) {
        char d[32];
        fmt_duration(d, sizeof(d), ldexp(1.0, (int)i - 20));
        fprintf(f, "<text class=tl x=%.1f y=%.1f>%s</text>", L + (i - lo) * bw, T + PH + 16, d);
    }
    fputs("</svg>", f);
    double n = (double)PRS_MAX(s->tries, 1u);
    char mean[32], run[32], rmax[32];
    fmt_duration(mean, sizeof(mean), s->elapsed_sum_s / n);
    fmt_duration(run, sizeof(run), s->run_sum_s / n);
    fmt_duration(rmax, sizeof(rmax), s->elapsed_max_s);
    fprintf(f,
            "<table><tr><th>mean try</th><td>%s</td></tr><tr><th>mean run()</th><td>%s</td></tr>"
            "<tr><th>runtime share</th><td>%.1f%%</td></tr><tr><th>longest try</th><td>%s</td>"
            "</tr></table></div></section>\n",
            mean, run,
            s->elapsed_sum_s > 0 ? 100 * (s->elapsed_sum_s - s->run_sum_s) / s->elapsed_sum_s : 0,
            rmax);
}

/* error.txt names its files relative to OUT; the page lives in OUT/logs/. */
static void error_link(FILE *f, const char *file) {
    bool in_logs = strncmp(file, "logs/", 5) == 0;
    fputs(in_logs ? "<a href=\"" : "<a href=\"../", f);
    esc(f, in_logs ? file + 5 : file);
    fputs("\">", f);
    esc(f, file);
    fputs("</a>", f);
}

static void section_errors(FILE *f, const prs_jobstats *s) {
    fprintf(f, "<section><h2>Errors</h2><p>%llu errors", (unsigned long long)s->errors_total);
    if (!s->groups_len) {
        fputs(".</p></section>\n", f);
        return;
    }
    uint64_t max = s->groups[0].count ? s->groups[0].count : 1;
    fputs(", largest groups first (logs/user/error.txt).</p><table class=errors><tr><th>count"
          "</th><th></th><th>message</th><th>first file</th></tr>",
          f);
    for (size_t i = 0; i < s->groups_len; i++) {
        const prs_jobstats_group *g = &s->groups[i];
        fprintf(f,
                "<tr><td>%llu</td><td><svg class=bar viewBox=\"0 0 100 10\" aria-hidden=true>"
                "<rect width=%.1f height=10 fill=\"url(#p-failed)\" /></svg></td><td>",
                (unsigned long long)g->count, 100.0 * (double)g->count / (double)max);
        esc(f, g->message);
        fputs("</td><td>", f);
        if (g->file[0]) error_link(f, g->file);
        fputs("</td></tr>", f);
    }
    fputs("</table></section>\n", f);
}

static void section_restarts(FILE *f, const prs_jobstats *s) {
    uint64_t restarts = s->lives_total ? s->lives_total - 1 : 0;
    fprintf(f, "<section><h2>Restarts</h2><p>%llu lives of the runtime, %llu restarts.</p>",
            (unsigned long long)s->lives_total, (unsigned long long)restarts);
    if (s->lives_len > 1) {
        fputs("<table><tr><th>pid</th><th>from</th><th>lasted</th><th>exit code</th>"
              "<th>signal</th></tr>",
              f);
        for (size_t i = 0; i < s->lives_len && i < 50; i++) {
            const prs_jobstats_life *l = &s->lives[i];
            char at[32], d[32];
            fmt_duration(at, sizeof(at), PRS_MAX(l->start_s - s->t0_s, 0));
            fmt_duration(d, sizeof(d), PRS_MAX(l->end_s - l->start_s, 0));
            fprintf(f, "<tr><td>%lld</td><td>+%s</td><td>%s</td><td>%d</td><td>%d</td></tr>",
                    (long long)l->pid, at, d, l->exit_code, l->signal);
        }
        fputs("</table>", f);
        if (s->lives_len > 50) fputs("<p class=note>(the first 50)</p>", f);
    }
    if (s->host_lives_total) {
        fprintf(f,
                "<p>%llu lives of entry-script host processes (Python).</p><table><tr><th>"
                "worker</th><th>host lives</th><th>restarts</th></tr>",
                (unsigned long long)s->host_lives_total);
        for (uint32_t w = 0; w < PRS_JOBSTATS_MAX_WORKERS; w++)
            if (s->host_lives[w])
                fprintf(f, "<tr><td>worker-%u</td><td>%u</td><td>%u</td></tr>", w, s->host_lives[w],
                        s->host_lives[w] - 1);
        fputs("</table>", f);
    }
    fputs("</section>\n", f);
}

static void chart_resources(FILE *f, const prs_jobstats *s) {
    fputs("<section><h2>Resources</h2>", f);
    if (!s->perf_samples) {
        fputs("<p>No sample in sys/perf/overview.csv yet (one every --perf-interval).</p>"
              "</section>\n",
              f);
        return;
    }
    size_t cells = (size_t)s->workers * PRS_JOBSTATS_BUCKETS;
    double *cpu = calloc(cells, sizeof(double));
    if (!cpu) return;
    for (size_t i = 0; i < cells; i++)
        cpu[i] = s->lane_cpu_n[i] ? s->lane_cpu_sum[i] / s->lane_cpu_n[i] : 0;
    fputs("<div class=fig>", f);
    svg_begin(f, "cpu", "CPU use per worker thread (percent of one core)", H);
    lane_lines(f, s, cpu, "%");
    time_axis(f, s, T + PH);
    fputs("</svg>", f);
    double rss[PRS_JOBSTATS_BUCKETS];
    for (uint32_t b = 0; b < PRS_JOBSTATS_BUCKETS; b++)
        rss[b] = (double)s->rss_max_bytes[b] / (1 << 20);
    svg_begin(f, "rss", "Resident memory of the runtime process (MiB)", H);
    double max = PRS_MAX(max_of(rss, PRS_JOBSTATS_BUCKETS), 1.0);
    value_axis(f, max, "MiB");
    series(f, rss, max, "runtime RSS", 0);
    time_axis(f, s, T + PH);
    fprintf(f,
            "</svg><table><tr><th>samples</th><td>%llu</td></tr><tr><th>peak RSS</th>"
            "<td>%.1f MiB</td></tr></table></div></section>\n",
            (unsigned long long)s->perf_samples, max);
    free(cpu);
}

static const char style[] =
    "<style>body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;padding:0 12px;"
    "max-width:1180px;color:#111;background:#fff}h1{font-size:20px}h2{font-size:16px;"
    "border-bottom:1px solid #999;margin-top:24px}svg{width:100%;height:auto;display:block}"
    ".fig{display:grid;grid-template-columns:minmax(0,3fr) minmax(12em,1fr);gap:12px;"
    "align-items:start}.fig svg+svg{grid-column:1}table{border-collapse:collapse}"
    "td,th{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}"
    ".errors td:nth-child(3){word-break:break-word}svg.key{display:inline;width:24px;"
    "height:14px;vertical-align:middle}svg.bar{width:100px;height:10px}"
    "pre{white-space:pre-wrap;background:#f4f4f4;padding:8px;border:1px solid #ccc}"
    ".state{font-size:18px;font-weight:bold}.note{color:#444;font-size:12px}"
    "text{font-size:12px;fill:#111}.tl{text-anchor:middle}.vl{text-anchor:end}"
    ".ax{stroke:#111;stroke-width:1}.mk{fill:#a00;text-anchor:middle;font-size:11px}"
    ".rs{stroke:#a00;stroke-width:1;stroke-dasharray:3 3}polyline{fill:none;stroke-width:2}"
    ".s0{stroke:#1f5fa8}.s1{stroke:#c0392b}.s2{stroke:#2e7d32}.s3{stroke:#6a1b9a}"
    "@media (max-width:700px){.fig{grid-template-columns:1fr}}"
    "@media print{@page{size:A4;margin:12mm}body{max-width:none}section{break-inside:avoid}"
    "a{color:#111}}</style>\n";

/* The fill patterns of the five outcomes: distinct in grey as in colour. */
static const char patterns[] =
    "<svg width=0 height=0 style=\"position:absolute\" aria-hidden=true><defs>"
    "<pattern id=p-done width=6 height=6 patternUnits=userSpaceOnUse><rect width=6 height=6 "
    "fill=\"#5b9b3a\" /></pattern>"
    "<pattern id=p-items width=6 height=6 patternUnits=userSpaceOnUse><rect width=6 height=6 "
    "fill=\"#f0b429\" /><path d=\"M0 6L6 0\" stroke=\"#333\" stroke-width=1.2 /></pattern>"
    "<pattern id=p-failed width=6 height=6 patternUnits=userSpaceOnUse><rect width=6 height=6 "
    "fill=\"#d9534f\" /><path d=\"M0 0L6 6M0 6L6 0\" stroke=\"#222\" stroke-width=1 /></pattern>"
    "<pattern id=p-timeout width=6 height=6 patternUnits=userSpaceOnUse><rect width=6 "
    "height=6 fill=\"#9b59b6\" /><circle cx=3 cy=3 r=1.4 fill=\"#fff\" /></pattern>"
    "<pattern id=p-crashed width=6 height=6 patternUnits=userSpaceOnUse><rect width=6 "
    "height=6 fill=\"#222\" /><path d=\"M0 3H6\" stroke=\"#fff\" stroke-width=1.5 /></pattern>"
    "</defs></svg>\n";

int prs_htmlreport_render(const prs_jobstats *s, FILE *f, unsigned refresh_s) {
    fputs("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
          "<meta name=viewport content=\"width=device-width,initial-scale=1\">",
          f);
    if (refresh_s) fprintf(f, "<meta http-equiv=refresh content=%u>", refresh_s);
    fprintf(f, "<title>prs job: %s</title>\n%s</head><body>\n%s", s->state[0] ? s->state : "?",
            style, patterns);
    fputs("<h1>prs job report</h1><p class=state>", f);
    esc(f, s->state[0] ? s->state : "NOT STARTED");
    fprintf(f, ": %llu items succeeded, %llu failed, in %llu tries",
            (unsigned long long)s->items_ok, (unsigned long long)s->items_failed,
            (unsigned long long)s->tries);
    if (refresh_s) fprintf(f, " (this page reloads every %u s while the job runs)", refresh_s);
    fputs("</p><pre>", f);
    esc(f, s->overview);
    fputs("</pre>\n", f);
    chart_progress(f, s);
    chart_throughput(f, s);
    chart_timeline(f, s);
    chart_durations(f, s);
    section_errors(f, s);
    section_restarts(f, s);
    chart_resources(f, s);
    if (s->malformed_rows)
        fprintf(f, "<p class=note>%llu rows of processed_mini-batches.csv could not be read.</p>",
                (unsigned long long)s->malformed_rows);
    fputs("<p class=note>Made by prs from OUT/logs/ (processed_mini-batches.csv, perf/overview"
          ".csv, processes.csv, master.txt, user/error.txt, overview.txt).</p></body></html>\n",
          f);
    return ferror(f) ? -EIO : 0;
}

/* Writes OUT/logs/report.html from render(ctx, f): a temporary file beside it, renamed
 * over it; neither followed if it is a symlink. */
static int write_page(const char *out_dir, int (*render)(const void *ctx, FILE *f), const void *ctx,
                      char *err, size_t err_size) {
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/logs/report.html", out_dir);
    snprintf(tmp, sizeof(tmp), "%s/logs/.report.html.tmp", out_dir);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        snprintf(err, err_size, "%s: is a symlink; prs does not write through it", path);
        return -ELOOP;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, err_size, "%s: %s", tmp, strerror(errno));
        return rc;
    }
    FILE *f = fdopen(fd, "w");
    int rc = 0;
    if (!f) {
        rc = -errno;
        close(fd);
        goto remove_tmp;
    }
    rc = render(ctx, f);
    if (fclose(f) != 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
    if (rc == 0) return 0;
remove_tmp:
    snprintf(err, err_size, "%s: %s", path, strerror(-rc));
    unlink(tmp);
    return rc;
}

typedef struct single_page {
    const prs_jobstats *s;
    unsigned refresh_s;
} single_page;

static int render_single(const void *ctx, FILE *f) {
    const single_page *p = ctx;
    return prs_htmlreport_render(p->s, f, p->refresh_s);
}

int prs_htmlreport_write(const char *out_dir, unsigned refresh_s, char *err, size_t err_size) {
    char shards[PATH_MAX];
    struct stat st;
    snprintf(shards, sizeof(shards), "%s/shards", out_dir);
    if (stat(shards, &st) == 0 && S_ISDIR(st.st_mode))
        return prs_htmlreport_write_sharded(out_dir, err, err_size);
    prs_jobstats *s;
    int rc = prs_jobstats_load(out_dir, &s, err, err_size);
    if (rc != 0) return rc;
    single_page p = {s, refresh_s};
    rc = write_page(out_dir, render_single, &p, err, err_size);
    prs_jobstats_free(s);
    return rc;
}

/* ---- a job run as shards: the shards side by side ------------------------------------ */

typedef struct shard_entry {
    uint32_t k, n;
    char name[32]; /* "K-of-N" */
    prs_jobstats *s;
} shard_entry;

typedef struct sharded_page {
    const prs_jobstats *whole; /* OUT/logs: the merged overview.txt and error.txt */
    shard_entry *shard;
    size_t len;
    uint64_t skipped; /* shard directories past PRS_HTMLREPORT_MAX_SHARDS */
    double t0_s, t1_s;
} sharded_page;

static int cmp_shard(const void *a, const void *b) {
    const shard_entry *x = a, *y = b;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* Each shard's own report, and its stats for the job's page. */
static int load_shards(const char *out_dir, sharded_page *p, char *err, size_t err_size) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/shards", out_dir);
    DIR *d = opendir(dir);
    if (!d) {
        int rc = -errno;
        snprintf(err, err_size, "%s: %s", dir, strerror(errno));
        return rc;
    }
    p->shard = calloc(PRS_HTMLREPORT_MAX_SHARDS, sizeof(*p->shard));
    if (!p->shard) {
        closedir(d);
        return -ENOMEM;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        shard_entry se = {0};
        char tail;
        if (sscanf(e->d_name, "%u-of-%u%c", &se.k, &se.n, &tail) != 2) continue;
        if (p->len == PRS_HTMLREPORT_MAX_SHARDS) {
            p->skipped++;
            continue;
        }
        char sub[PATH_MAX + 300], ignored[PATH_MAX + 256];
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        snprintf(se.name, sizeof(se.name), "%u-of-%u", se.k, se.n);
        /* a shard that has not started has no logs yet: no report, no lane */
        (void)prs_htmlreport_write(sub, 0, ignored, sizeof(ignored));
        if (prs_jobstats_load(sub, &se.s, ignored, sizeof(ignored)) != 0) continue;
        p->shard[p->len++] = se;
    }
    closedir(d);
    qsort(p->shard, p->len, sizeof(*p->shard), cmp_shard);
    for (size_t i = 0; i < p->len; i++) {
        const prs_jobstats *s = p->shard[i].s;
        if (!s->tries) continue;
        if (p->t1_s <= p->t0_s || s->t0_s < p->t0_s) p->t0_s = s->t0_s;
        p->t1_s = PRS_MAX(p->t1_s, s->t1_s);
    }
    if (!(p->t1_s > p->t0_s)) p->t1_s = p->t0_s + 1;
    return 0;
}

static void shards_table(FILE *f, const sharded_page *p) {
    fputs("<table><tr><th>shard</th><th>state</th><th>tries</th><th>items succeeded</th>"
          "<th>items failed</th><th>crashes</th><th>timeouts</th><th>restarts</th>"
          "<th>report</th></tr>",
          f);
    for (size_t i = 0; i < p->len; i++) {
        const shard_entry *e = &p->shard[i];
        const prs_jobstats *s = e->s;
        fprintf(f,
                "<tr><td>%s</td><td>%s</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td>"
                "<td>%llu</td><td>%llu</td><td><a href=\"../shards/%s/logs/report.html\">"
                "shards/%s</a></td></tr>",
                e->name, s->state[0] ? s->state : "NOT STARTED", (unsigned long long)s->tries,
                (unsigned long long)s->items_ok, (unsigned long long)s->items_failed,
                (unsigned long long)s->crashes, (unsigned long long)s->timeouts,
                (unsigned long long)(s->lives_total ? s->lives_total - 1 : 0), e->name, e->name);
    }
    fputs("</table>", f);
    if (p->skipped)
        fprintf(f, "<p class=note>%llu more shards are not shown.</p>",
                (unsigned long long)p->skipped);
}

/* One lane per shard over the job's span: each shard's buckets placed by their middle,
 * filled with the worst outcome, fainter where its workers were less busy. */
static void shards_timeline(FILE *f, const sharded_page *p) {
    double span = p->t1_s - p->t0_s, height = T + p->len * LANE_H + B;
    svg_begin(f, "shards", "One lane per shard: tries by outcome over the job's time", height);
    for (size_t i = 0; i < p->len; i++) {
        const prs_jobstats *s = p->shard[i].s;
        fprintf(f, "<text class=vl x=%.0f y=%.1f>%s</text>", L - 4, T + (i + 1) * LANE_H - 5,
                p->shard[i].name);
        if (!s->tries) continue;
        double w = PRS_MAX(s->bucket_s / span * PW, 0.6);
        for (uint32_t b = 0; b < PRS_JOBSTATS_BUCKETS; b++) {
            int worst = -1;
            double busy = 0;
            for (uint32_t lane = 0; lane < s->workers; lane++) {
                size_t cell = (size_t)lane * PRS_JOBSTATS_BUCKETS + b;
                for (int o = 0; o < PRS_TRY_OUTCOMES; o++)
                    if (s->lane_outcome[cell * PRS_TRY_OUTCOMES + o] && o > worst) worst = o;
                busy += s->lane_busy_s[cell];
            }
            busy = PRS_MIN(busy / (s->bucket_s * s->workers), 1.0);
            if (worst < 0 && busy <= 0) continue;
            double x = L + (s->t0_s + b * s->bucket_s - p->t0_s) / span * PW;
            fprintf(f, "<rect x=%.2f y=%.1f width=%.2f height=%.0f fill=\"%s\" opacity=%.2f />", x,
                    T + i * LANE_H + 1, w, LANE_H - 2, outcome_fill[worst < 0 ? 0 : worst],
                    0.25 + 0.75 * busy);
        }
    }
    prs_jobstats span_only = {.t0_s = p->t0_s, .t1_s = p->t1_s};
    time_axis(f, &span_only, T + p->len * LANE_H);
    fputs("</svg>", f);
}

static int render_sharded(const void *ctx, FILE *f) {
    const sharded_page *p = ctx;
    const prs_jobstats *w = p->whole;
    uint64_t ok = 0, failed = 0, tries = 0;
    for (size_t i = 0; i < p->len; i++) {
        ok += p->shard[i].s->items_ok;
        failed += p->shard[i].s->items_failed;
        tries += p->shard[i].s->tries;
    }
    fprintf(f,
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8><meta name=viewport "
            "content=\"width=device-width,initial-scale=1\"><title>prs job: %s</title>\n%s"
            "</head><body>\n%s<h1>prs job report: %zu shards</h1><p class=state>",
            w->state[0] ? w->state : "NOT MERGED", style, patterns, p->len);
    esc(f, w->state[0] ? w->state : "NOT MERGED YET (prs merge OUT)");
    fprintf(f, ": %llu items succeeded, %llu failed, in %llu tries</p><pre>",
            (unsigned long long)ok, (unsigned long long)failed, (unsigned long long)tries);
    esc(f, w->overview[0] ? w->overview : "no logs/overview.txt yet: prs merge OUT writes it");
    fputs("</pre>\n<section><h2>Shards side by side</h2>", f);
    legend(f);
    fputs("<div class=wide>", f);
    shards_timeline(f, p);
    fputs("</div>", f);
    shards_table(f, p);
    fputs("</section>\n", f);
    section_errors(f, w);
    fputs("<p class=note>Made by prs from OUT/logs/ and each shard's OUT/shards/K-of-N/logs/."
          "</p></body></html>\n",
          f);
    return ferror(f) ? -EIO : 0;
}

int prs_htmlreport_write_sharded(const char *out_dir, char *err, size_t err_size) {
    char logs[PATH_MAX];
    snprintf(logs, sizeof(logs), "%s/logs", out_dir);
    if (mkdir(logs, 0755) != 0 && errno != EEXIST) {
        int rc = -errno;
        snprintf(err, err_size, "%s: %s", logs, strerror(errno));
        return rc;
    }
    sharded_page p = {0};
    prs_jobstats *whole = NULL;
    int rc = load_shards(out_dir, &p, err, err_size);
    if (rc == 0) rc = prs_jobstats_load(out_dir, &whole, err, err_size);
    if (rc == 0) {
        p.whole = whole;
        rc = write_page(out_dir, render_sharded, &p, err, err_size);
    }
    for (size_t i = 0; i < p.len; i++)
        prs_jobstats_free(p.shard[i].s);
    free(p.shard);
    prs_jobstats_free(whole);
    return rc;
}
