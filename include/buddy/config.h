/* The daemon's configuration file, $BUDDY_HOME/config (INI, read with inih): optional; every
 * setting has a safe default. Read at start (a malformed file stops buddyd) and again on SIGHUP
 * or `config.reload` (a malformed file is then logged and the old configuration kept). Every
 * error reads "FILE:LINE: key: why". The keys are in buddy_config_keys (config.c).
 *
 *   [deadlines]
 *   remind_lead = 3h        ; how long before a period ends I am reminded (s, m, h, d suffix)
 *   miss_grace = 1h         ; how long after a buddy's period ends it counts as missed
 *
 *   [hooks]
 *   timeout = 10s           ; a hook still running after this is killed
 *   checkin = /usr/local/bin/notify-checkin     ; one program per event kind (events.h names)
 *   default = /home/me/bin/buddy-notify         ; for kinds without their own
 *
 *   [peer]
 *   ping = 30s              ; a session that received nothing this long is pinged (1s to 1h)
 *   idle = 90s              ; and closed after this long (longer than ping, at most 1h)
 *   redial_max = 5m         ; redial delays double from 1s up to this (1s to 1h)
 *
 *   listen = 0.0.0.0:7654 [::]:7654   ; where buddies connect (buddyd --listen overrides)
 *   advertise = 192.0.2.1:7654        ; where buddies should dial me (--advertise overrides)
 *
 *   [daemon]
 *   log_level = info        ; error, warn, info or debug (buddyd --log-level overrides)
 *
 *   [discovery]
 *   enabled = yes           ; LAN beacons for my buddies, and listening for theirs (yes|no)
 *   port = 7655             ; the UDP port of the beacons (1 to 65535; buddies must agree)
 *   interval = 30s          ; between rounds of beacons, x [0.75, 1.25] (1s to 1h)
 *
 * Hook values are a program path and optional arguments separated by spaces (no shell, no
 * quoting); the event is in the environment (hooks.h). Lines are at most 197 bytes. */
#ifndef BUDDY_CONFIG_H
#define BUDDY_CONFIG_H

#include "buddy/events.h"
#include "buddy/invite.h"
#include "buddy/log.h"

#include <stdbool.h>
#include <stdint.h>

#define BUDDY_HOOK_ARGS_MAX 16 /* program and arguments of one hook */
/* bytes of one hook value; a whole line may not be longer than Debian's inih reads at once
 * (197 bytes: config.c refuses longer lines, naming them, rather than read them cut) */
#define BUDDY_HOOK_LINE_MAX 1024

struct buddy_hook_cmd {
	char *argv[BUDDY_HOOK_ARGS_MAX + 1]; /* NULL-terminated; argv[0] NULL: no hook */
};

struct buddy_config {
	int64_t remind_lead_s, miss_grace_s, hook_timeout_s;
	int64_t peer_ping_s, peer_idle_s, peer_redial_max_s; /* [peer]: the session clock */
	bool discovery_enabled;				     /* [discovery] (PROTOCOL.md 16) */
	int64_t discovery_port, discovery_interval_s;
	struct buddy_hook_cmd hooks[BUDDY_EV_COUNT_]; /* by kind; [0] is "default" */
	/* [peer] listen/advertise: none set means buddyd's (or the command line's) default */
	struct buddy_addr listen[BUDDY_PEER_ADDRS_MAX], advertise[BUDDY_PEER_ADDRS_MAX];
	size_t nlisten, nadvertise;
	enum buddy_log_level log_level; /* [daemon] */
	/* which keys the file sets: by row of buddy_config_keys, hooks by kind */
	bool set[32];
	bool hook_set[BUDDY_EV_COUNT_];
};

/* One row per key: section, key, default as the file would write it ("" none: unset), and what
 * it is for. The row with key "*" stands for every event kind in [hooks]. Ends with a NULL
 * section. The parser accepts exactly these names; the CLI and the manual list them. */
struct buddy_config_key {
	const char *section, *key, *def, *desc;
};
extern const struct buddy_config_key buddy_config_keys[];

/* Every concrete key, in table order with "*" expanded to each event kind: i-th one's section
 * and key (kind names are static); false past the end. */
bool buddy_config_key_at(size_t i, const char **section, const char **key);
/* The effective value of section.key in c as the file would write it ("" when none), and
 * whether the file set it. BUDDY_E_NOTFOUND for an unknown key. */
int buddy_config_value(const struct buddy_config *c, const char *section, const char *key,
		       char *out, size_t cap, bool *set);
/* Parses "HOST:PORT" as a listen address (port 0: any free port) / an address to advertise. */
int buddy_config_parse_listen(const char *s, struct buddy_addr *out);
int buddy_config_parse_advertise(const char *s, struct buddy_addr *out);

/* Defaults, then the file at path if it exists. BUDDY_E_INVALID with a message in err (line
 * number and why) for a malformed file or value; BUDDY_E_PERM for a file others may write. */
int buddy_config_load(const char *path, struct buddy_config *c, char *err, size_t errlen);
/* The same, reading path but naming `shown` in messages (a temporary file checked before it
 * replaces the configuration). */
int buddy_config_load_as(const char *path, const char *shown, struct buddy_config *c, char *err,
			 size_t errlen);
void buddy_config_free(struct buddy_config *c);
/* The file's bytes as buddyd reads them, with the same checks (a symlink is followed; then a
 * regular file, owned by this user, not writable by group or others, at most
 * BUDDY_CONFIG_FILE_MAX bytes): *text (malloc'd, NUL-terminated, *len bytes before the NUL) NULL
 * when there is no file; otherwise an error with why in err, which names path. Used by
 * buddy_config_load and by backup.start, so that a config buddyd accepts is one a backup takes. */
#define BUDDY_CONFIG_FILE_MAX (64 * 1024)
int buddy_config_read(const char *path, char **text, size_t *len, char *err, size_t errlen);

/* The hook for kind: its own, else the default, else NULL. */
const struct buddy_hook_cmd *buddy_config_hook(const struct buddy_config *c,
					       enum buddy_event_kind kind);

#endif
