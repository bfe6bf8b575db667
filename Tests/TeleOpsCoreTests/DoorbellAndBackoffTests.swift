import Testing
@testable import TeleOpsCore

@Suite struct DoorbellTests {
    @Test func aRingBeforeTheWaitIsKept() async {
        let bell = Doorbell()
        bell.ring()
        let clock = ContinuousClock()
        let elapsed = await clock.measure { await bell.wait(timeout: .seconds(30)) }
        #expect(elapsed < .seconds(10))
    }

    @Test func aRingWakesAWaiter() async {
        let bell = Doorbell()
        let clock = ContinuousClock()
        let elapsed = await clock.measure {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await bell.wait(timeout: .seconds(30)) }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(20))
                    bell.ring()
                }
                await group.waitForAll()
            }
        }
        // Woken by the ring, not by the 30 s timeout.
        #expect(elapsed < .seconds(10))
    }

    @Test func waitEndsOnTimeoutWithoutARing() async {
        let bell = Doorbell()
        let clock = ContinuousClock()
        let elapsed = await clock.measure { await bell.wait(timeout: .milliseconds(50)) }
        #expect(elapsed >= .milliseconds(50))
    }

    @Test func aCancelledWaitEndsAtOnce() async {
        let bell = Doorbell()
        let clock = ContinuousClock()
        let elapsed = await clock.measure {
            let waiting = Task { await bell.wait(timeout: .seconds(30)) }
            try? await Task.sleep(for: .milliseconds(20))
            waiting.cancel()
            await waiting.value
        }
        #expect(elapsed < .seconds(10))
    }

    /// Each wait's timeout is its own: a short wait after a long one is not held to the long
    /// one's deadline, and a ring in between leaves no stale timeout behind.
    @Test func successiveWaitsKeepTheirOwnTimeouts() async {
        let bell = Doorbell()
        let clock = ContinuousClock()
        let first = Task { await bell.wait(timeout: .seconds(30)) }
        try? await Task.sleep(for: .milliseconds(20))
        bell.ring()
        await first.value
        let elapsed = await clock.measure { await bell.wait(timeout: .milliseconds(50)) }
        #expect(elapsed >= .milliseconds(50) && elapsed < .seconds(10))
        bell.ring()
        let rung = await clock.measure { await bell.wait(timeout: .seconds(30)) }
        #expect(rung < .seconds(10))
    }
}

@Suite struct BackoffTests {
    @Test func ceilingDoublesUpToTheMaximum() {
        let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect(backoff.ceiling(attempt: 1) == .milliseconds(100))
        #expect(backoff.ceiling(attempt: 2) == .milliseconds(200))
        #expect(backoff.ceiling(attempt: 4) == .milliseconds(800))
        #expect(backoff.ceiling(attempt: 5) == .seconds(1))
        #expect(backoff.ceiling(attempt: 500) == .seconds(1))
    }

    @Test func delayStaysWithinTheCeiling() {
        let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        for attempt in 1...20 {
            let delay = backoff.delay(attempt: attempt)
            #expect(delay >= .zero && delay <= backoff.ceiling(attempt: attempt))
        }
    }
}
