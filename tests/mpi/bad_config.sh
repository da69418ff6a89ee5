# Config files and overrides that are not what they seem are refused with the file, line and
# numbers and a hint, before anything is written (issue 12): a directory, an endless device, a
# NUL byte, a key twice in one file, a line longer than inih's buffer, keys and values over the
# limits. Later files and overrides still override, and pipes (-c <(...)) still work.
source "$(dirname "$0")/lib.bash"

REFUSAL_BASE=(run train "${SMALL_TRAIN[@]}")
S=$SCRATCH
repeat() { printf "%$2s" '' | tr ' ' "$1"; } # repeat CHAR N: N copies of CHAR

expect_refusal "a directory as config file" "$S is a directory, not a config file" -c "$S"
expect_refusal "an endless file (/dev/zero)" "config file /dev/zero is larger than 1048576 bytes" \
    -c /dev/zero
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' '\n' >"$S/big.ini"
expect_refusal "a file over 1 MiB" "big.ini is larger than 1048576 bytes" -c "$S/big.ini"
printf '[train]\nepochs = 3\nlr = 0.1\0\n' >"$S/nul.ini"
expect_refusal "a NUL byte names its line" "nul.ini:3: a NUL byte in a config file" -c "$S/nul.ini"

printf '[train]\nepochs = 3\nlr = 0.1\nepochs = 4\n' >"$S/dup.ini"
expect_refusal "a key twice in a section names both lines" \
    "dup.ini:4: train.epochs is set twice in this file (lines 2 and 4)" -c "$S/dup.ini"
printf '[train]\nepochs = 3\n[data]\ntrain_limit = 100\n[train]\nepochs = 4\n' >"$S/dup2.ini"
expect_refusal "a key in two [train] sections names both lines" \
    "dup2.ini:6: train.epochs is set twice in this file (lines 2 and 6)" -c "$S/dup2.ini"
printf '[train]\nepochs = 3\n   4\n' >"$S/indented.ini"
expect_refusal "an indented line that continues a key" "lines 2 and 3" -c "$S/indented.ini"

printf '[train]\nepochs = 3\n[data]\ndir = /%s\n' "$(repeat x 300)" >"$S/long.ini"
expect_refusal "a line over inih's buffer names line and limit" \
    "long.ini:4: line is longer than [0-9]* characters (307)" -c "$S/long.ini"
expect_refusal "a value over 4095 characters" \
    "command line: the value of data.dir has 5000 characters, more than the limit of 4095" \
    "data.dir=$(repeat y 5000)"
expect_refusal "a key over 255 characters" "has 306 characters, more than the limit of 255" \
    "train.$(repeat k 300)=1"

# What still works: defaults, a pipe, a value at the limit, later sources overriding.
"$RANKLAB" show-config train >"$S/defaults.log"
check "show-config with the defaults" grep -q '^# train, resolved config' "$S/defaults.log"
"$RANKLAB" show-config train -c <(printf '[train]\nepochs = 7\n') >"$S/fifo.log"
check "a pipe as config file (-c <(...))" grep -q '^train.epochs *= 7 ' "$S/fifo.log"
value=$(repeat z 4095)
"$RANKLAB" show-config train "data.dir=$value" >"$S/limit.log"
check "a value of 4095 characters is kept whole" grep -q "= $value " "$S/limit.log"
printf '[train]\nepochs = 3\nlr = 0.5\n' >"$S/a.ini"
printf '[train]\nepochs = 4\n' >"$S/b.ini"
"$RANKLAB" show-config train -c "$S/a.ini" -c "$S/b.ini" train.lr=0.25 >"$S/later.log"
check "a later file overrides an earlier one" grep -q '^train.epochs *= 4 ' "$S/later.log"
check "an override overrides the files" grep -q '^train.lr *= 0.25 ' "$S/later.log"
finish
