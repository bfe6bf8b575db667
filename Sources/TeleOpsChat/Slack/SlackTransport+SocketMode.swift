import ServiceLifecycle

extension SlackTransport {
    /// Socket Mode needs the WebSocket client, which is not in this tree yet.
    func runSocketMode() async {
        logger.error("Socket Mode is not available in this build; use receive_mode: events_api")
        try? await gracefulShutdown()
    }
}
