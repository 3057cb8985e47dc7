#!/bin/sh
# The container's entry point: `pyspeaker ARGS...`, except that `run` without --config uses
# $PYSPEAKER_CONFIG (/etc/pyspeaker/pyspeaker.toml, mounted by the operator) when that file
# exists, and the embedded default configuration otherwise.
set -e
if [ "$1" = "run" ] && [ -n "$PYSPEAKER_CONFIG" ] && [ -f "$PYSPEAKER_CONFIG" ]; then
    case " $* " in
        *" --config"*) ;;
        *) shift; set -- run --config "$PYSPEAKER_CONFIG" "$@" ;;
    esac
fi
exec pyspeaker "$@"
