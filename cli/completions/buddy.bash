# bash completion for buddy(1). Installed by CMake into bash-completion's completions directory.
# Commands and options come from buddy itself (`buddy help --commands`, `buddy help COMMAND`),
# commitment ids and buddy names from the running daemon (`buddy commit list --json`, `buddy
# buddies --json`), so this file never goes out of date. Both are slugs: [a-z0-9_-].
_buddy_ids() {
	"$1" commit list --json 2>/dev/null | sed -n 's/^ *"id": "\([a-z0-9_-]*\)",*$/\1/p'
}

_buddy_names() {
	"$1" buddies --json 2>/dev/null | sed -n 's/^ *"name": "\([a-z0-9_-]*\)",*$/\1/p'
}

_buddy() {
	local bin=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev= cmd=${COMP_WORDS[1]:-} words
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		words=$("$bin" help --commands 2>/dev/null)
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		return
	fi
	case $prev in
	--with | --from | --share-with)
		mapfile -t COMPREPLY < <(compgen -W "$(_buddy_names "$bin")" -- "$cur")
		return ;;
	--commit)
		mapfile -t COMPREPLY < <(compgen -W "$(_buddy_ids "$bin")" -- "$cur")
		return ;;
	--passphrase-file | --old-passphrase-file | --new-passphrase-file | --out)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	esac
	if [[ $cur == -* ]]; then
		words=$("$bin" help "$cmd" 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u)
		mapfile -t COMPREPLY < <(compgen -W "$words --help" -- "$cur")
		return
	fi
	# the first argument of commands that take a commitment or a buddy
	if [ "$COMP_CWORD" -eq 2 ]; then
		case $cmd in
		checkin | pause | share | unshare)
			words=$(_buddy_ids "$bin") ;;
		show | verify | rename | revoke | cheer | comment)
			words=$(_buddy_names "$bin") ;;
		commit) words="add list show archive" ;;
		inbox) words="read" ;;
		help) words=$("$bin" help --commands 2>/dev/null) ;;
		import | backup | restore) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
		*) return ;;
		esac
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
	elif [ "$COMP_CWORD" -eq 3 ] && [ "$cmd" = commit ]; then
		case ${COMP_WORDS[2]} in
		show | archive)
			mapfile -t COMPREPLY < <(compgen -W "$(_buddy_ids "$bin")" -- "$cur") ;;
		esac
	fi
}
complete -F _buddy buddy
