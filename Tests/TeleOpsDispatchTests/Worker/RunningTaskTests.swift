import Testing
@testable import TeleOpsDispatch

/// The first of a run's end and its CANCEL decides, whichever order they come in, and a waiter
/// is woken by either.
@Suite struct RunningTaskTests {
    @Test func theFirstEndingWinsAndTheSecondChangesNothing() async {
        let finishedFirst = RunningTask()
        finishedFirst.finish()
        finishedFirst.cancel()
        #expect(await finishedFirst.firstEnding() == .finished)

        let cancelledFirst = RunningTask()
        cancelledFirst.cancel()
        cancelledFirst.finish()
        #expect(await cancelledFirst.firstEnding() == .cancelled)
    }

    @Test(arguments: [RunningTask.Ending.finished, .cancelled])
    func aWaiterIsWokenByWhicheverComesLater(_ ending: RunningTask.Ending) async throws {
        let running = RunningTask()
        let waiter = Task { await running.firstEnding() }
        // Give the waiter a moment to wait; either way it must see the ending.
        try await Task.sleep(for: .milliseconds(20))
        if ending == .finished { running.finish() } else { running.cancel() }
        #expect(try await withDeadline("the waiter") { await waiter.value } == ending)
    }
}
