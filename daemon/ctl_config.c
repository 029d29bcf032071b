/* Reloading $BUDDY_HOME/config (SIGHUP, or the `config.reload` control method): the file is
 * parsed into a new configuration; a malformed one is logged (and answered) and the old one
 * kept. Otherwise the new one replaces it and takes effect: hooks at once (running ones finish
 * under the old settings), deadlines from the next look, the log level at once, and a change to
 * [peer] or [discovery] restarts the peer transport (while the journal is unlocked: it runs
 * only then). Command-line --listen, --advertise and --log-level stay in force. */
#include "buddy/config.h"
#include "buddy/daemon.h"
#include "buddy/deadlines.h"
#include "buddy/error.h"
#include "buddy/log.h"
#include "buddy/mp.h"
#include "ctl_methods.h"

#include <stdio.h>
#include <string.h>

void buddyd_config_apply_addrs(struct buddyd *d)
{
	if (!d->listen_cli) {
		if (d->config.nlisten) {
			memcpy(d->listen, d->config.listen, sizeof(d->listen));
			d->nlisten = d->config.nlisten;
			d->listen_default = false;
		} else {
			/* all interfaces, IPv4 and IPv6 (two sockets: IPv6 ones are IPv6-only) */
			buddy_addr_parse("0.0.0.0:7654", 0, &d->listen[0]);
			buddy_addr_parse("[::]:7654", 0, &d->listen[1]);
			d->nlisten = 2;
			d->listen_default = true;
		}
	}
	if (!d->advertise_cli) {
		memcpy(d->advertise, d->config.advertise, sizeof(d->advertise));
		d->nadvertise = d->config.nadvertise;
	}
}

void buddyd_config_apply_log_level(struct buddyd *d)
{
	if (!d->log_level_cli)
		buddy_log_set_level(d->config.log_level);
}

int buddyd_config_reload(struct buddyd *d, struct buddyd_config_changes *ch, char *err,
			 size_t errlen)
{
	char path[BUDDY_PATH_MAX + 16];
	struct buddy_config nc, old;
	bool restart = false, deadlines = false;
	const char *sec, *key;
	int rc;

	ch->n = 0;
	snprintf(path, sizeof(path), "%s/config", d->home.dir);
	rc = buddy_config_load(path, &nc, err, errlen);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, buddy_strerror(rc));
		log_error("configuration not reloaded, the old one is kept: %s", err);
		return rc;
	}
	for (size_t i = 0; buddy_config_key_at(i, &sec, &key); i++) {
		char a[BUDDY_HOOK_LINE_MAX + 32], b[BUDDY_HOOK_LINE_MAX + 32];
		bool sa, sb;

		buddy_config_value(&d->config, sec, key, a, sizeof(a), &sa);
		buddy_config_value(&nc, sec, key, b, sizeof(b), &sb);
		if (!strcmp(a, b))
			continue;
		if (ch->n < BUDDYD_CONFIG_CHANGES_MAX)
			snprintf(ch->names[ch->n++], sizeof(ch->names[0]), "%s.%s", sec, key);
		if (!strcmp(sec, "peer") || !strcmp(sec, "discovery"))
			restart = true;
		if (!strcmp(sec, "deadlines"))
			deadlines = true;
	}
	old = d->config;
	d->config = nc;
	/* the hooks keep copies of their programs: they take the new ones now, and a run in
	 * progress keeps what it started with */
	buddyd_notify_reconfigure(d);
	buddy_config_free(&old);
	buddyd_config_apply_log_level(d);
	buddyd_config_apply_addrs(d);
	if (deadlines && d->state == BUDDYD_UNLOCKED)
		buddyd_deadlines_tick(d);
	if (restart && d->state == BUDDYD_UNLOCKED && !d->stopping) {
		log_info("configuration: restarting the peer transport");
		buddyd_pairing_stop(d);
		buddyd_pairing_start(d);
	}
	log_info("configuration reloaded (%zu change%s)", ch->n, ch->n == 1 ? "" : "s");
	for (size_t i = 0; i < ch->n; i++)
		log_info("configuration: %s changed", ch->names[i]);
	return 0;
}

void ctl_config_reload(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct buddyd_config_changes ch;
	msgpack_packer *pk;
	char err[512] = "";
	int rc;

	(void)p;
	rc = buddyd_config_reload(d, &ch, err, sizeof(err));
	if (rc) {
		ctl_error(r, BUDDY_E_INVALID, "%s", err);
		return;
	}
	pk = ctl_result(r);
	msgpack_pack_map(pk, 1);
	buddy_mp_pack_cstr(pk, "changed");
	msgpack_pack_array(pk, ch.n);
	for (size_t i = 0; i < ch.n; i++)
		buddy_mp_pack_cstr(pk, ch.names[i]);
	ctl_result_send(r);
}
