import Foundation
import Testing
@testable import TeleOpsChat
import TeleOpsCore

/// Payload → message, on the reference samples.
@Suite struct SlackEventsTests {
    private func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Data(text.utf8)) }

    /// The Events API body inside a Socket Mode sample, with its event edited.
    private func eventCallback(_ edit: (inout [String: JSONValue]) -> Void = { _ in }) throws -> JSONValue {
        guard case .object(var body)? = try json(SlackSamples.socketModeMessage)["payload"],
              case .object(var event)? = body["event"] else { throw SlackSampleError() }
        edit(&event)
        body["event"] = .object(event)
        return .object(body)
    }

    struct SlackSampleError: Error {}

    private let own = SlackIdentity(userID: "U111", botID: "B111")

    @Test func aPersonsMessageIsDeliveredWithoutTheMentionOfTheBot() throws {
        let message = try SlackEvents.message(fromEventCallback: try eventCallback(), identity: own).get()
        #expect(message.text == "Hi here!")
        #expect(message.userID == "U222")
        #expect(message.kind == .text)
        #expect(message.ref == MessageRef(transport: "slack", chat: "C111", messageID: "1610241741.000200"))
        #expect(message.replyTo == nil, "a top-level message replies to nothing")
        #expect(message.deliveryID == "event:Ev111")
    }

    @Test func aReplyInAThreadIsAboutTheThreadsParent() throws {
        let body = try eventCallback { $0["thread_ts"] = "1610241700.000100"; $0["parent_user_id"] = "U111" }
        let message = try SlackEvents.message(fromEventCallback: body, identity: own).get()
        let parent = MessageRef(transport: "slack", chat: "C111", messageID: "1610241700.000100")
        #expect(message.ref == parent)
        #expect(message.replyTo == parent)
    }

    @Test func aThreadParentIsTopLevel() throws {
        let body = try eventCallback { $0["thread_ts"] = "1610241741.000200" }
        let message = try SlackEvents.message(fromEventCallback: body, identity: own).get()
        #expect(message.ref.messageID == "1610241741.000200")
        #expect(message.replyTo == nil)
    }

    enum Unwanted: String, CaseIterable, Sendable {
        case ownMessage, botID, edit, deletion, join, appMention

        func apply(to event: inout [String: JSONValue]) {
            switch self {
            case .ownMessage: event["user"] = "U111"
            case .botID: event["bot_id"] = "B999"
            case .edit: event["subtype"] = "message_changed"
            case .deletion: event["subtype"] = "message_deleted"
            case .join: event["subtype"] = "channel_join"
            case .appMention: event["type"] = "app_mention"   // the message event carries it too
            }
        }
    }

    @Test(arguments: Unwanted.allCases) func notDelivered(_ unwanted: Unwanted) throws {
        let body = try eventCallback { unwanted.apply(to: &$0) }
        #expect(throws: SlackEvents.Ignored.self) { try SlackEvents.message(fromEventCallback: body, identity: own).get() }
    }

    @Test func theBotsOwnUserIsKnownFromAuthorizationsBeforeAuthTest() throws {
        let body = try eventCallback { $0["user"] = "U333" }   // the sample's authorizations name U333 as the bot
        #expect(throws: SlackEvents.Ignored.self) { try SlackEvents.message(fromEventCallback: body, identity: nil).get() }
    }

    @Test func referenceBotAndEditedSamplesAreNotDelivered() throws {
        for sample in [SlackSamples.botMessageEvent, SlackSamples.editedMessageEvent] {
            let event = try json(sample)
            let wrapped: JSONValue = ["type": "event_callback", "event_id": "Ev1", "event": event]
            let outcome = SlackEvents.message(fromEventCallback: wrapped, identity: own)
            if sample == SlackSamples.editedMessageEvent {
                // The reference "edited" sample is a plain message carrying `edited`; Slack sends
                // edits as subtype message_changed, so this one is a person's message.
                #expect((try? outcome.get())?.text == "Hello, world!")
            } else {
                #expect(throws: SlackEvents.Ignored.self) { try outcome.get() }
            }
        }
    }

    @Test func blockActionsIsAButtonPressOnTheMessage() throws {
        let payload = try #require(try json(SlackSamples.blockActionsEnvelope)["payload"])
        let presses = try SlackEvents.presses(fromInteraction: payload).get()
        let ref = MessageRef(transport: "slack", chat: "C123ABC456", messageID: "1548261231.000200")
        #expect(presses.count == 1)
        #expect(presses.first?.kind == .button)
        #expect(presses.first?.text == "click_me_123")
        #expect(presses.first?.ref == ref)
        #expect(presses.first?.replyTo == ref)
        #expect(presses.first?.userID == "U123ABC456")
        #expect(presses.first?.displayName == "RMR")
        #expect(presses.first?.deliveryID == "action:1548426417.840180:U123ABC456:C123ABC456:1548261231.000200")
    }

    @Test func aShortcutIsNotAPress() throws {
        let payload = try #require(try json(SlackSamples.shortcutEnvelope)["payload"])
        #expect(throws: SlackEvents.Ignored.self) { try SlackEvents.presses(fromInteraction: payload).get() }
    }

    @Test func aSlashCommandIsTypedText() throws {
        guard case .object(let object)? = try json(SlackSamples.slashCommandEnvelope)["payload"] else { throw SlackSampleError() }
        var fields = object.compactMapValues(\.stringValue)
        fields["text"] = "ack #3"
        let message = try SlackEvents.message(fromSlashCommand: fields).get()
        #expect(message.text == "ack #3")
        #expect(message.kind == .text)
        #expect(message.userID == "U123ABC456")
        #expect(message.displayName == "rainer")
        #expect(message.ref.chat == "C123ABC456")
        #expect(!SlackEvents.isTimestamp(message.ref.messageID), "a command leaves no message to thread under")
        #expect(message.deliveryID == "command:37053613634.26768298162.440952c06ef4de2653466a48fe495f93")
    }

    @Test(arguments: [
        ("<@U111> ack", "ack"),
        ("<@U111>: run disk", "run disk"),
        ("<@U111|teleops> status", "status"),
        ("run restart <http://web-1.example.com|web-1.example.com>", "run restart web-1.example.com"),
        ("see <https://grafana.example.com/d/1>", "see https://grafana.example.com/d/1"),
        ("mail <mailto:ops@example.com|ops@example.com>", "mail ops@example.com"),
        ("note ask <@U222> in <#C9|ops> <!here>", "note ask @U222 in #ops @here"),
        ("note 1 &lt; 2 &amp;&amp; 3 &gt; 2", "note 1 < 2 && 3 > 2"),
        ("note &amp;lt; stays", "note &lt; stays"),
        ("ask <@U111> later", "ask @U111 later"),
        ("  ack  ", "ack"),
    ])
    func slackMarkupBecomesWhatWasTyped(_ wire: String, _ typed: String) {
        #expect(SlackEvents.plainText(wire, strippingMentionOf: "U111") == typed)
    }

    @Test(arguments: ["1700000000.000100", "1.2"]) func timestamps(_ text: String) {
        #expect(SlackEvents.isTimestamp(text))
    }

    @Test(arguments: ["", "1700000000", "command:1.2", "1.2.3", "a.b", ".1"]) func notTimestamps(_ text: String) {
        #expect(!SlackEvents.isTimestamp(text))
    }
}
