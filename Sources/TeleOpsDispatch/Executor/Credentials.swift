import Glibc

/// The identity a command runs as: uid, primary gid and supplementary groups, resolved from
/// names in this (parent) process before the child starts, since the child may call nothing that takes
/// a lock or reads files (getpwnam does both).
///
/// ```swift
/// switch Credentials.resolve(user: "nobody", group: nil) {
/// case .success(let credentials): print(credentials?.uid ?? getuid())  // nil: no switch needed
/// case .failure(let error): print(error)  // "unknown user 'nobdy' (no passwd entry)"
/// }
/// ```
///
/// Rules:
/// - No user and no group: no switch.
/// - Running as root: `user` (a name, or a numeric uid) is switched to, with `group` (a name or
///   a numeric gid) as primary group, else the user's own from passwd; the supplementary groups
///   are the user's from the group database (`getgrouplist`). A numeric uid with no passwd entry
///   needs a `group`. A group without a user is refused: root with another group is still root.
/// - Not running as root: only root can switch, so a user or group other than the one this
///   process runs as is refused (asking for our own identity is accepted and changes nothing).
/// - Unknown names are refused, naming them.
struct Credentials: Equatable {
    var uid: uid_t
    var gid: gid_t
    var groups: [gid_t]
    /// The user as the request named it, for messages.
    var user: String

    static func resolve(user: String?, group: String?) -> Result<Credentials?, SpawnError> {
        guard user != nil || group != nil else { return .success(nil) }
        var account: Account?
        if let user {
            switch Account.lookUp(user) {
            case .success(let found): account = found
            case .failure(let error): return .failure(error)
            }
        }
        var groupID: gid_t?
        if let group {
            switch Account.lookUpGroup(group) {
            case .success(let found): groupID = found
            case .failure(let error): return .failure(error)
            }
        }

        guard geteuid() == 0 else {
            // Only root can switch users: accept exactly who we already are, refuse anything else.
            if let user, let account, account.uid != geteuid() || account.uid != getuid() {
                return .failure(SpawnError(
                    "cannot switch to user '\(user)': this worker runs as \(Account.describeSelf()), not as root, "
                        + "and only root can switch users (run the worker as that user, or as root)"))
            }
            if let group, let groupID, groupID != getegid() || groupID != getgid() {
                return .failure(SpawnError(
                    "cannot switch to group '\(group)': this worker runs as \(Account.describeSelf()), not as root, "
                        + "and only root can switch groups"))
            }
            return .success(nil)
        }

        guard let user, let account else {
            return .failure(SpawnError(
                "group '\(group ?? "")' given without a user: root with another group is still root; name a user to run as"))
        }
        guard let gid = groupID ?? account.gid else {
            return .failure(SpawnError("user '\(user)' has no passwd entry, so it has no primary group: give a group as well"))
        }
        let groups = account.name.map { Account.supplementaryGroups(of: $0, primary: gid) } ?? [gid]
        return .success(Credentials(uid: account.uid, gid: gid, groups: groups, user: user))
    }
}

/// A user found in the passwd database (or a bare numeric uid without an entry).
private struct Account {
    var uid: uid_t
    var gid: gid_t?
    var name: String?

    /// A name, or a number (looked up by uid; accepted without an entry).
    static func lookUp(_ user: String) -> Result<Account, SpawnError> {
        if user.isEmpty { return .failure(SpawnError("empty user name")) }
        if let number = uid_t(user) {
            if let entry = passwd(byUID: number) { return .success(entry) }
            return .success(Account(uid: number, gid: nil, name: nil))
        }
        guard let entry = passwd(byName: user) else {
            return .failure(SpawnError("unknown user '\(user)' (no passwd entry)"))
        }
        return .success(entry)
    }

    /// A group name, or a numeric gid (accepted as it is).
    static func lookUpGroup(_ group: String) -> Result<gid_t, SpawnError> {
        if group.isEmpty { return .failure(SpawnError("empty group name")) }
        if let number = gid_t(group) { return .success(number) }
        var entry = GroupEntry()
        var found: UnsafeMutablePointer<GroupEntry>?
        let gid: gid_t? = withLookupBuffer { buffer, size in
            let rc = getgrnam_r(group, &entry, buffer, size, &found)
            return (rc, found == nil ? nil : entry.gr_gid)
        }
        guard let gid else { return .failure(SpawnError("unknown group '\(group)' (no group entry)")) }
        return .success(gid)
    }

    /// The groups `name` belongs to (getgrouplist), `primary` included.
    static func supplementaryGroups(of name: String, primary: gid_t) -> [gid_t] {
        var count: Int32 = 32
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let previous = count
            if getgrouplist(name, primary, &groups, &count) >= 0 { return Array(groups.prefix(Int(count))) }
            if count <= previous { count = previous * 2 }  // older glibc does not report the size
            if count > 65536 { return [primary] }
        }
    }

    /// "root (uid 0)", "alice (uid 1000)".
    static func describeSelf() -> String {
        let uid = geteuid()
        return "\(passwd(byUID: uid)?.name ?? "uid \(uid)") (uid \(uid))"
    }

    private static func passwd(byName name: String) -> Account? {
        var entry = Glibc.passwd()
        var found: UnsafeMutablePointer<Glibc.passwd>?
        return withLookupBuffer { buffer, size in
            let rc = getpwnam_r(name, &entry, buffer, size, &found)
            return (rc, found == nil ? nil : Account(entry))
        }
    }

    private static func passwd(byUID uid: uid_t) -> Account? {
        var entry = Glibc.passwd()
        var found: UnsafeMutablePointer<Glibc.passwd>?
        return withLookupBuffer { buffer, size in
            let rc = getpwuid_r(uid, &entry, buffer, size, &found)
            return (rc, found == nil ? nil : Account(entry))
        }
    }

    private init(_ entry: Glibc.passwd) {
        self.init(uid: entry.pw_uid, gid: entry.pw_gid, name: entry.pw_name.map { String(cString: $0) })
    }

    private init(uid: uid_t, gid: gid_t?, name: String?) {
        self.uid = uid
        self.gid = gid
        self.name = name
    }

    /// Runs a `get*_r` lookup with a buffer that grows while it answers ERANGE.
    private static func withLookupBuffer<T>(_ body: (UnsafeMutablePointer<CChar>, Int) -> (Int32, T?)) -> T? {
        var size = 4096
        while size <= 1 << 20 {
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let (rc, value) = body(buffer, size)
            if rc == ERANGE {
                size *= 2
                continue
            }
            return value
        }
        return nil
    }
}

/// `struct group` of <grp.h> (named apart from the `group` parameters above).
private typealias GroupEntry = Glibc.group
