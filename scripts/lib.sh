# Shell helpers shared by the benchmark scripts (sourced, not run).

# A free loopback TCP port into the variable named $1: not listed in /proc/net/tcp{,6} (in any state) and not
# handed out before by this shell. Call it without a subshell (`free_port port`), so that TAKEN remembers.
TAKEN=" "
free_port() { # variable-name
    local _fp_used _fp_port
    _fp_used=" $(for f in /proc/net/tcp /proc/net/tcp6; do [ -r "$f" ] && tail -n +2 "$f"; done \
        | while read -r _ address _; do echo $((16#${address##*:})); done | sort -u | tr '\n' ' ') "
    for _ in $(seq 1 500); do
        _fp_port=$((20000 + RANDOM % 40000))
        if [[ $_fp_used != *" $_fp_port "* && $TAKEN != *" $_fp_port "* ]]; then
            TAKEN+="$_fp_port "
            printf -v "$1" '%s' "$_fp_port"
            return 0
        fi
    done
    return 1
}

# Waits until `url` answers (any status), while process `pid` lives, for at most `seconds`.
wait_http() { # url pid seconds
    local url=$1 pid=$2 deadline=$((SECONDS + $3))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

# CPU time of a process tree in clock ticks (CLK_TCK per second): utime + stime (/proc/<pid>/stat fields 14 and 15;
# a process's stat counts all its threads) summed over the process and every live descendant.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
tree_ticks() { # root-pid
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
        # The command name (field 2) may hold spaces: read the fields after its closing parenthesis.
        { pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " "); parent[pid] = f[2]; ticks[pid] = f[12] + f[13] }
        END {
            total = 0
            for (p in ticks) {
                q = p
                for (depth = 0; depth < 32 && q != "" && q > 1; depth++) {
                    if (q == root) { total += ticks[p]; break }
                    q = parent[q]
                }
            }
            print total
        }'
}

# Until something accepts on 127.0.0.1:port; fails early when process `pid` is gone, or after `seconds`.
wait_tcp() { # port pid seconds: until something accepts on 127.0.0.1:port
    local deadline=$((SECONDS + $3))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
