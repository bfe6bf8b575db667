// swift-tools-version:6.2
import PackageDescription

// Targets follow docs/architecture.md: they are split where a heavy or native
// dependency comes in. Hummingbird is used with `traits: []`: its default
// traits make SwiftPM plan -D flags in a nondeterministic order, which rebuilds
// it on every `swift build` <-> `swift test` switch.
let package = Package(
    name: "teleops",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "teleops", targets: ["teleops"]),
        .library(name: "TeleOpsCore", targets: ["TeleOpsCore"]),
        .library(name: "TeleOpsApp", targets: ["TeleOpsApp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already in the graph through Hummingbird; named for the HTTP field types of chat webhooks.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // Server-rendered scenario pages (logic-less templates, HTML-escaped by default).
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // Native libraries and the C shims Swift cannot call directly
        // (variadic curl_easy_setopt, prctl, pidfd_open); libcrypto for SHA-256 and HMAC-SHA256.
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"]), .brew(["zeromq"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"]), .brew(["openssl"])]),
        .target(name: "CShims", dependencies: ["CCurl"]),

        .target(name: "TeleOpsCore", dependencies: [
            "CCrypto",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "TeleOpsDispatch", dependencies: [
            "TeleOpsCore", "CZeroMQ", "CShims",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "TeleOpsChat", dependencies: [
            // libcrypto: Slack request signatures (HMAC-SHA256) and the WebSocket handshake (SHA-1).
            "TeleOpsCore", "CCurl", "CShims", "CCrypto",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "TeleOpsSQLite", dependencies: [
            "TeleOpsCore",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .target(name: "TeleOpsHTTP", dependencies: [
            "TeleOpsCore", "CCrypto",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "TeleOpsApp", dependencies: [
            "TeleOpsCore", "TeleOpsDispatch", "TeleOpsChat", "TeleOpsSQLite", "TeleOpsHTTP",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The fake Telegram and Slack servers are real HTTP (and WebSocket) servers on loopback.
        .target(name: "TeleOpsTesting", dependencies: [
            "TeleOpsCore", "CShims",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),
        .executableTarget(name: "teleops", dependencies: [
            "TeleOpsApp",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "teleops-bench", dependencies: [
            "TeleOpsApp", "TeleOpsHTTP", "TeleOpsTesting",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "TeleOpsCoreTests", dependencies: ["TeleOpsCore", "TeleOpsTesting"]),
        .testTarget(name: "TeleOpsDispatchTests", dependencies: ["TeleOpsDispatch", "TeleOpsTesting"]),
        .testTarget(name: "TeleOpsSQLiteTests", dependencies: [
            "TeleOpsSQLite", "TeleOpsTesting",
            // To edit a store file behind the store's back (a newer schema, a corrupt row).
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "TeleOpsChatTests", dependencies: ["TeleOpsChat", "TeleOpsTesting"]),
        .testTarget(name: "TeleOpsHTTPTests", dependencies: [
            // Requests go over real HTTP on loopback, sent with the project's own curl client.
            "TeleOpsHTTP", "TeleOpsChat", "TeleOpsTesting",
        ]),
        // TeleOpsSQLite: to read what a killed server left on disk.
        // GRDB: to alter a store file behind the server's back (`scenarios verify` must notice).
        .testTarget(name: "TeleOpsAppTests", dependencies: [
            "TeleOpsApp", "TeleOpsChat", "TeleOpsDispatch", "TeleOpsSQLite", "TeleOpsTesting",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
