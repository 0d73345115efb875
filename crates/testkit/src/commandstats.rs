//! [`command_calls`]: how many times a server ran a command, from its `INFO commandstats`.

/// The `calls` count of `command` (lower case, as Redis names it: `evalsha`, `rename`) in the
/// text of `INFO commandstats`; 0 when the server has not run it.
#[must_use]
pub fn command_calls(info: &str, command: &str) -> u64 {
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::command_calls;

    #[test]
    fn reads_the_count_of_the_command_named() {
        let info = "# Commandstats\r\n\
                    cmdstat_eval:calls=2,usec=9,usec_per_call=4.50\r\n\
                    cmdstat_evalsha:calls=17,usec=80,usec_per_call=4.71\r\n";
        assert_eq!(command_calls(info, "evalsha"), 17);
        assert_eq!(command_calls(info, "eval"), 2);
        assert_eq!(command_calls(info, "rename"), 0);
    }
}
