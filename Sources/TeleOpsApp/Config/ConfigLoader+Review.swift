import TeleOpsHTTP

extension ConfigLoader {
    /// `review:`: who may read the scenario log over HTTP (docs/review.md).
    ///
    /// ```yaml
    /// review:
    ///   tokens_file: /etc/teleops/review.tokens   # one token per line; and/or tokens: ["…"]
    /// ```
    ///
    /// Without a token, reading is open on a loopback `http.host` and refused elsewhere (the
    /// server still starts: alert intake does not depend on it).
    static func readReview(_ value: YAMLValue) throws(ConfigError) -> ReviewSettings {
        let fields = try value.fields(allowed: ["tokens", "tokens_file"])
        var settings = ReviewSettings()
        if let tokens = fields["tokens"] {
            for item in try tokens.list() {
                let token = try item.string().trimmingCharacters(in: .whitespacesAndNewlines)
                guard token.count >= 16 else {
                    throw item.error("is too short to be a token (at least 16 characters); generate one with: openssl rand -hex 24")
                }
                settings.tokens.append(token)
            }
        }
        if let file = fields["tokens_file"] { settings.tokens += try secretFile(file) }
        if settings.tokens.isEmpty {
            throw value.error("names no token; give tokens_file (one token per line) or tokens, or leave review out")
        }
        return settings
    }
}
