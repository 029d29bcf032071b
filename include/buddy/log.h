/* The daemon's log: one line per event on stderr, with a level. Callers log ids and counts,
 * never entry content, titles, names or secrets. */
#ifndef BUDDY_LOG_H
#define BUDDY_LOG_H

enum buddy_log_level { BUDDY_LOG_ERROR, BUDDY_LOG_WARN, BUDDY_LOG_INFO, BUDDY_LOG_DEBUG };

int buddy_log_level_parse(const char *s, enum buddy_log_level *out);
void buddy_log_set_level(enum buddy_log_level lvl);
void buddy_log(enum buddy_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) buddy_log(BUDDY_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  buddy_log(BUDDY_LOG_WARN, __VA_ARGS__)
#define log_info(...)  buddy_log(BUDDY_LOG_INFO, __VA_ARGS__)
#define log_debug(...) buddy_log(BUDDY_LOG_DEBUG, __VA_ARGS__)

#endif
