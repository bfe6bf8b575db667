import Foundation
import Glibc

/// Key files as `teleops worker keygen` writes them, and the allowlist file of the controller.
///
/// A secret key file (mode 0600) and its public key file (`PATH.pub`, mode 0644):
///
/// ```text
/// # TeleOps CURVE secret key (Z85). Keep it private: mode 0600, never copy it to another host.
/// # Its public key is in worker.key.pub.
/// secret-key = "<40 Z85 characters>"
/// ```
///
/// ```text
/// # TeleOps CURVE public key (Z85) of worker.key.
/// public-key = "<40 Z85 characters>"
/// ```
///
/// Lines starting with `#` and blank lines are ignored; exactly one `secret-key` (or
/// `public-key`) line must be present. A secret key file that its owner's group or other users
/// may read or write is refused, as ssh refuses such a private key.
///
/// An allowlist file holds one public key per line, either bare or as `public-key = "…"` (so
/// `cat worker.key.pub >> allowed_keys` works); anything after the key on a line is a comment.
public enum CurveKeyFile {
    /// Files larger than this are not key files.
    static let maxFileBytes = 64 * 1024

    /// Writes the secret key to `path` (mode 0600) and the public key to `path.pub` (mode 0644).
    /// Refuses to replace either file unless `force` is set; each file is written to a temporary
    /// name first and then linked or renamed into place, so a reader never sees half a key.
    public static func write(_ pair: CurveKeyPair, to path: String, force: Bool = false) throws(CurveError) {
        let publicPath = path + ".pub"
        if !force {
            for existing in [path, publicPath] where exists(existing) {
                throw CurveError(.exists, "\(existing) already exists; pass --force to replace it "
                    + "(the old key then stops working wherever it was allowed)")
            }
        }
        let name = URL(fileURLWithPath: path).lastPathComponent
        let secret = """
            # TeleOps CURVE secret key (Z85). Keep it private: mode 0600, never copy it to another host.
            # Its public key is in \(name).pub.
            secret-key = "\(pair.secretKey.z85)"

            """
        let `public` = """
            # TeleOps CURVE public key (Z85) of \(name).
            public-key = "\(pair.publicKey.z85)"

            """
        try writeFile(path, Array(secret.utf8), mode: 0o600, replace: force)
        try writeFile(publicPath, Array(`public`.utf8), mode: 0o644, replace: force)
    }

    /// Writes only the secret key file (mode 0600), replacing it if `replace`: for a key that is
    /// handed to child processes and never published.
    public static func writeSecretKey(_ pair: CurveKeyPair, to path: String, replace: Bool) throws(CurveError) {
        let text = """
            # TeleOps CURVE secret key (Z85), generated for this run only.
            secret-key = "\(pair.secretKey.z85)"

            """
        try writeFile(path, Array(text.utf8), mode: 0o600, replace: replace)
    }

    /// Reads a secret key file and derives its public key. Throws when the file is missing,
    /// readable or writable by others, or does not hold exactly one `secret-key` line.
    public static func readSecretKey(at path: String) throws(CurveError) -> CurveKeyPair {
        let (text, mode) = try readText(path, what: "secret key file",
                                        ifMissing: "; create one with `teleops worker keygen --out \(path)`")
        // The content first, so a .pub file given by mistake is named as such.
        let (value, line) = try singleValue(text, name: "secret-key", path: path, secret: true)
        if mode & 0o077 != 0 {
            let how = mode & 0o044 != 0 ? "readable" : "writable"
            throw CurveError(.unsafePermissions, "secret key file \(path) is \(how) by others (mode \(octal(mode))); "
                + "run chmod 600 \(path)")
        }
        let key = try CurveSecretKey(z85: value, what: "the secret key on line \(line) of \(path)")
        return try CurveKeyPair(secretKey: key)
    }

    /// Reads a public key file (`PATH.pub` as keygen writes it).
    public static func readPublicKey(at path: String) throws(CurveError) -> CurvePublicKey {
        let (text, _) = try readText(path, what: "public key file")
        let (value, line) = try singleValue(text, name: "public-key", path: path, secret: false)
        return try CurvePublicKey(z85: value, what: "the public key on line \(line) of \(path)")
    }

    /// A public key given on a command line: a file holding it if `argument` names an existing
    /// file, otherwise the 40 Z85 characters themselves. `what` names it in errors ("--server-key").
    public static func publicKey(fromKeyOrFile argument: String, what: String) throws(CurveError) -> CurvePublicKey {
        if exists(argument) { return try readPublicKey(at: argument) }
        do {
            return try CurvePublicKey(z85: argument, what: what)
        } catch {
            throw CurveError(.malformedKey, "\(error.message) (and no file of that name exists)")
        }
    }

    /// The keys of an allowlist file: one per line, bare or as `public-key = "…"`; `#` starts a
    /// comment line; text after the key is ignored. An empty list is allowed (it refuses everyone).
    public static func readAllowlist(at path: String) throws(CurveError) -> [CurvePublicKey] {
        let (text, _) = try readText(path, what: "allowed keys file")
        var keys: [CurvePublicKey] = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let token: String
            // Z85 has '=' in its alphabet: only a line starting with a key file's field name is one.
            let named = ["public-key", "secret-key"].contains { line.hasPrefix($0 + " ") || line.hasPrefix($0 + "=") }
            if named, let (name, value) = assignment(line) {
                guard name == "public-key" else {
                    throw CurveError(.malformedFile, "\(path):\(offset + 1): expected a public key, found '\(name) = …'"
                        + (name == "secret-key" ? " (a secret key must never be on an allowlist; use the .pub file)" : ""))
                }
                token = value
            } else {
                token = String(line.split(separator: " ", maxSplits: 1).first ?? "")
            }
            keys.append(try CurvePublicKey(z85: token, what: "\(path):\(offset + 1): the key"))
        }
        return keys
    }

    // MARK: - Reading

    /// Reads a small regular file: its text and its permission bits, taken from the open
    /// descriptor, so the mode checked is the mode of the file read.
    static func readText(_ path: String, what: String, ifMissing hint: String = "") throws(CurveError)
        -> (text: String, mode: mode_t)
    {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw CurveError(.unreadable, "\(what) \(path) does not exist\(hint)")
            }
            throw CurveError(.unreadable, "cannot open \(what) \(path): \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw CurveError(.unreadable, "cannot stat \(what) \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw CurveError(.unreadable, "\(what) \(path) is not a regular file") }
        guard info.st_size <= maxFileBytes else {
            throw CurveError(.malformedFile, "\(what) \(path) is \(info.st_size) bytes; a key file is a few lines")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw CurveError(.unreadable, "cannot read \(what) \(path): \(String(cString: strerror(errno)))") }
            if got == 0 { break }
            count += got
        }
        guard let text = String(validating: bytes[..<count], as: UTF8.self) else {
            throw CurveError(.malformedFile, "\(what) \(path) is not UTF-8 text")
        }
        return (text, info.st_mode & 0o7777)
    }

    /// The value of the one `name = value` line; every other line must be a comment or blank.
    private static func singleValue(_ text: String, name: String, path: String, secret: Bool) throws(CurveError)
        -> (value: String, line: Int)
    {
        var found: (String, Int)?
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let location = "\(path):\(offset + 1)"
            guard let (key, value) = assignment(line) else {
                // A secret key file's lines are never quoted back.
                throw CurveError(.malformedFile, "\(location): expected '\(name) = \"…\"'"
                    + (secret ? "" : ", found '\(line.prefix(60))'"))
            }
            guard key == name else {
                let hint = key == "public-key" ? " (this is a public key file; give the secret key file, without .pub)"
                    : key == "secret-key" ? " (this is a secret key file; give its .pub file)" : ""
                throw CurveError(.malformedFile, "\(location): expected '\(name) = \"…\"', found '\(key) = …'\(hint)")
            }
            guard found == nil else { throw CurveError(.malformedFile, "\(location): a second '\(name)' line") }
            found = (value, offset + 1)
        }
        guard let found else { throw CurveError(.malformedFile, "\(path) has no '\(name) = \"…\"' line") }
        return found
    }

    /// `name = value` or `name = "value"`; nil when the line has no `=`.
    private static func assignment(_ line: String) -> (String, String)? {
        guard let equals = line.firstIndex(of: "="), !line.hasPrefix("=") else { return nil }
        let name = line[..<equals].trimmingCharacters(in: .whitespaces)
        var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        guard !name.contains(" ") else { return nil }
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
        return (name, value)
    }

    // MARK: - Writing

    /// Writes `bytes` to a temporary file with `mode`, then renames it onto `path` (`replace`) or
    /// links it there, which fails if `path` appeared in the meantime.
    static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t, replace: Bool) throws(CurveError) {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(String(UInt32.random(in: .min ... .max), radix: 16))").path
        func failure(_ operation: String, _ code: Int32) -> CurveError {
            unlink(temporary)
            return CurveError(.unreadable, "cannot write \(path): \(operation): \(String(cString: strerror(code)))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            throw CurveError(.unreadable, "cannot write \(path): \(String(cString: strerror(code)))")
        }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let code = errno
                close(fd)
                throw failure("write", code)
            }
            written += count
        }
        // The umask may have taken bits away; the mode must be exactly `mode`.
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            let code = errno
            close(fd)
            throw failure("fchmod/fsync", code)
        }
        close(fd)
        if replace {
            guard rename(temporary, path) == 0 else { throw failure("rename", errno) }
        } else {
            guard link(temporary, path) == 0 else {
                let code = errno
                if code == EEXIST {
                    unlink(temporary)
                    throw CurveError(.exists, "\(path) already exists; pass --force to replace it")
                }
                throw failure("link", code)
            }
            unlink(temporary)
        }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
