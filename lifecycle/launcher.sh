#!/bin/sh
# cnb-lifecycle's bundled launcher: a small POSIX-sh stand-in for the Go launcher, used when
# no launcher binary is given to the exporter. It supports what a typical app needs:
#   - the process type from the name it was started as (/cnb/process/<type>), else the
#     default process; arguments given to the container replace the process's args;
#   - buildpack launch env: <layer>/env and <layer>/env.launch files with the suffixes
#     .override, .default, .append, .prepend (and .delim), plus <layer>/bin on PATH and
#     <layer>/lib on LD_LIBRARY_PATH, for every launch layer;
#   - <layer>/profile.d/* scripts, sourced in order;
#   - direct=true processes are exec'd as argv, others through /bin/sh -c.
# What the Go launcher does beyond this is listed in docs/design.md.
set -e

layers="${CNB_LAYERS_DIR:-/layers}"
app="${CNB_APP_DIR:-/workspace}"
metadata="$layers/config/metadata.toml"

# Images of platform API 0.3 start the launcher itself and name the process in
# CNB_PROCESS_TYPE.
case "$0" in
  /cnb/process/*) process_type="${0##*/}" ;;
  *) process_type="${CNB_PROCESS_TYPE:-}" ;;
esac

# Print "key<TAB>value" lines for the [[processes]] entry of the wanted type (the first one
# when no type is wanted). Strings and arrays of strings in the basic TOML forms only.
process_fields() {
  awk -v want="$1" '
    function unquote(s) { sub(/^[ \t]*"/, "", s); sub(/"[ \t]*$/, "", s); return s }
    /^\[\[processes\]\]/ { n++; next }
    /^\[/ { section = 1; next }
    n > 0 && /^[ \t]*[A-Za-z_-]+[ \t]*=/ {
      key = $0; sub(/[ \t]*=.*/, "", key); gsub(/[ \t]/, "", key)
      value = $0; sub(/^[^=]*=[ \t]*/, "", value)
      field[n, key] = value
    }
    END {
      for (i = 1; i <= n; i++) {
        t = unquote(field[i, "type"])
        if (want == "" || t == want) {
          print "command\t" field[i, "command"]; print "args\t" field[i, "args"]
          print "direct\t" field[i, "direct"]; exit
        }
      }
      exit 1
    }' "$metadata"
}

# Turn a TOML string or array of strings into shell words, each single-quoted.
toml_words() {
  printf '%s' "$1" | sed -e 's/^\[//' -e 's/\]$//' | awk -v RS='"' 'NR % 2 == 0 {
    gsub(/\x27/, "\x27\\\x27\x27"); printf "\x27%s\x27 ", $0 }'
}

apply_env_dir() {
  for file in "$1"/*; do
    [ -f "$file" ] || continue
    name="${file##*/}"
    case "$name" in *.delim) continue ;; esac
    var="${name%.*}"; suffix="${name##*.}"
    [ "$var" = "$name" ] && suffix="override"
    value="$(cat "$file")"
    delim=""
    [ -f "$1/$var.delim" ] && delim="$(cat "$1/$var.delim")"
    current="$(eval "printf '%s' \"\${$var:-}\"")"
    case "$suffix" in
      override) new="$value" ;;
      default) [ -n "$current" ] && continue; new="$value" ;;
      append) new="${current:+$current$delim}$value" ;;
      prepend) new="$value${current:+$delim$current}" ;;
      *) continue ;;
    esac
    export "$var=$new"
  done
}

# Only launch layers are exported, so every layer directory in the image is one.
for layer in "$layers"/*/*/; do
  layer="${layer%/}"
  [ -d "$layer" ] || continue
  [ -d "$layer/bin" ] && PATH="$layer/bin:$PATH"
  [ -d "$layer/lib" ] && export LD_LIBRARY_PATH="$layer/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [ -d "$layer/env" ] && apply_env_dir "$layer/env"
  [ -d "$layer/env.launch" ] && apply_env_dir "$layer/env.launch"
  if [ -d "$layer/profile.d" ]; then
    for script in "$layer"/profile.d/*; do
      # shellcheck disable=SC1090
      [ -f "$script" ] && . "$script"
    done
  fi
done
export PATH
cd "$app"

if [ -z "$process_type" ] && [ "$#" -gt 0 ]; then
  exec "$@"
fi
fields="$(process_fields "$process_type")" || {
  echo "launcher: no process${process_type:+ of type '$process_type'} in $metadata" >&2
  exit 82
}
command="$(printf '%s\n' "$fields" | sed -n 's/^command\t//p')"
args="$(printf '%s\n' "$fields" | sed -n 's/^args\t//p')"
direct="$(printf '%s\n' "$fields" | sed -n 's/^direct\t//p')"
if [ "$#" -gt 0 ]; then
  args=""
  for arg in "$@"; do args="$args \"$arg\""; done
fi
eval "set -- $(toml_words "$command") $(toml_words "$args")"
if [ "$direct" = "true" ]; then
  exec "$@"
fi
exec /bin/sh -c "$*"
