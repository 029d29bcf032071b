/* buddy watch: events as they happen (proto/CONTROL.md `watch`): a check-in from a buddy, a
 * cheer, a miss, a reminder, a buddy coming online... one line each, or one JSON object per
 * line with --json, until buddyd stops or the user presses Ctrl-C. */
#include "buddy/mp.h"
#include "buddy/rpc.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

/* stdout failed (a full disk, an I/O error): every later event would be lost without a word */
static int watch_output_lost(struct cli_stream *s)
{
	cli_err("cannot write events: %s", strerror(errno));
	cli_stream_close(s);
	return EXIT_ERROR;
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct cli_stream s;
	bool json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else
			return cli_usage_err("watch", "unknown option");
	}
	if (optind < argc)
		return cli_usage_err("watch", "unexpected argument \"%s\"", argv[optind]);
	rc = cli_stream_open(&s, "watch");
	if (rc)
		return rc;
	if (!json) {
		printf("Watching for events (Ctrl-C to stop).\n");
		if (fflush(stdout) != 0)
			return watch_output_lost(&s);
	}
	for (;;) {
		struct cli_reply rep;
		const msgpack_object *n, *params;

		rc = cli_stream_next(&s, &rep);
		if (rc) {
			/* the daemon stopped or dropped a watcher that fell behind */
			if (!json)
				cli_err("buddyd closed the connection: no more events");
			rc = EXIT_ERROR;
			break;
		}
		n = rep.result;
		/* [2, "event", {...}]; anything else on this connection is ignored */
		if (n && n->type == MSGPACK_OBJECT_ARRAY && n->via.array.size == 3 &&
		    buddy_mp_str_eq(&n->via.array.ptr[1], "event") &&
		    (params = &n->via.array.ptr[2])->type == MSGPACK_OBJECT_MAP) {
			if (json) {
				json_t *j = cli_to_json(params);
				json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
				json_decref(j);
				putchar('\n');
			} else {
				cli_print_event(params);
			}
			if (fflush(stdout) != 0) {
				cli_reply_free(&rep);
				return watch_output_lost(&s);
			}
		}
		cli_reply_free(&rep);
	}
	cli_stream_close(&s);
	return rc;
}
