/// Payloads from the shared protocol reference (protocols.md section 2, `samples/`), compacted;
/// each names its sample file, whose label says where it came from.
enum SlackSamples {
    /// `slack-socketmode-events_api_message.SDKTEST.json`
    static let socketModeMessage = #"{"envelope_id":"ac2cfd40-6f8c-4d5e-a1ad-646e532baa19","payload":{"token":"verification-token","team_id":"T111","api_app_id":"A111","event":{"client_msg_id":"f0582a78-72db-4feb-b2f3-1e47d66365c8","type":"message","text":"<@U111> Hi here!","user":"U222","ts":"1610241741.000200","team":"T111","channel":"C111","event_ts":"1610241741.000200","channel_type":"channel"},"type":"event_callback","event_id":"Ev111","event_time":1610241741,"authorizations":[{"enterprise_id":null,"team_id":"T111","user_id":"U333","is_bot":true,"is_enterprise_install":false}],"is_ext_shared_channel":false,"event_context":"1-message-T111-C111"},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}"#
    /// `slack-socketmode-events_api_app_mention.SDKTEST.json`
    static let socketModeAppMention = #"{"envelope_id":"cda4159a-72a5-4744-aba3-4d66eb52682b","payload":{"token":"verification-token","team_id":"T111","api_app_id":"A111","event":{"client_msg_id":"f0582a78-72db-4feb-b2f3-1e47d66365c8","type":"app_mention","text":"<@U111>","user":"U222","ts":"1610241741.000200","team":"T111","blocks":[{"type":"rich_text","block_id":"Sesm","elements":[{"type":"rich_text_section","elements":[{"type":"user","user_id":"U111"}]}]}],"channel":"C111","event_ts":"1610241741.000200"},"type":"event_callback","event_id":"Ev111","event_time":1610241741,"authorizations":[{"enterprise_id":null,"team_id":"T111","user_id":"U222","is_bot":true,"is_enterprise_install":false}],"is_ext_shared_channel":false,"event_context":"1-app_mention-T111-C111"},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}"#
    /// `slack-socketmode-block_actions-envelope.CLEANED.json`
    static let blockActionsEnvelope = #"{"payload":{"type":"block_actions","team":{"id":"T123ABC456","domain":"Duino"},"user":{"id":"U123ABC456","username":"RMR","team_id":"T123ABC456"},"api_app_id":"AABA1ABCD","token":"9s8d9as89d8as9d8as989","container":{"type":"message_attachment","message_ts":"1548261231.000200","attachment_id":1,"channel_id":"C123ABC456","is_ephemeral":false,"is_app_unfurl":false},"trigger_id":"12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3","channel":{"id":"C123ABC456","name":"review-updates"},"message":{"bot_id":"B123ABC456","type":"message","text":"Who if I cried out would hear me.","user":"U123ABC456","ts":"1548261231.000200"},"response_url":"https://hooks.slack.com/actions/AABA1ABCD/1232321423432/D09sSasdasdAS9091209","actions":[{"action_id":"WaXA","block_id":"=qXel","text":{"type":"plain_text","text":"View","emoji":true},"value":"click_me_123","type":"button","action_ts":"1548426417.840180"}]},"envelope_id":"dbdd0ef3-1543-4f94-bfb4-133d0e6c1545","type":"interactive","accepts_response_payload":true}"#
    /// `slack-socketmode-slash_commands-envelope.json`
    static let slashCommandEnvelope = #"{"payload":{"token":"bHKJ2n9AW6Ju3MjciOHfbA1b","team_id":"T123ABC456","team_domain":"maria","channel_id":"C123ABC456","channel_name":"general","user_id":"U123ABC456","user_name":"rainer","command":"/randorilke","text":"","response_url":"https://rilke.slack.com/commands/T0SNL8S4S/37053613554/YMB2ZESDLNjNLqSFZ1quhNAh","trigger_id":"37053613634.26768298162.440952c06ef4de2653466a48fe495f93"},"envelope_id":"dbdd0ef3-1543-4f94-bfb4-133d0e6c1545","type":"slash_commands","accepts_response_payload":true}"#
    /// `slack-socketmode-interactive_shortcut.SDKTEST.json`
    static let shortcutEnvelope = #"{"envelope_id":"57d6a792-4d35-4d0b-b6aa-3361493e1caf","payload":{"type":"shortcut","token":"verification-token","action_ts":"1610198080.300836","team":{"id":"T111","domain":"testxyz"},"user":{"id":"U111","username":"testxyz","team_id":"T111"},"is_enterprise_install":false,"enterprise":null,"callback_id":"do-something","trigger_id":"111.222.xxx"},"type":"interactive","accepts_response_payload":false}"#
    /// `slack-socketmode-hello.CLEANED.json`
    static let hello = #"{"type":"hello","connection_info":{"app_id":"A1234"},"num_connections":1,"debug_info":{"host":"applink-….","started":"2020-10-11 12:12:12.120","build_number":54,"approximate_connection_time":3600}}"#
    /// `slack-socketmode-disconnect-warning.json`
    static let disconnectWarning = #"{"type":"disconnect","reason":"warning","debug_info":{"host":"wss-111.slack.com"}}"#
    /// `slack-socketmode-disconnect-refresh_requested.json`
    static let disconnectRefresh = #"{"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"wss-111.slack.com"}}"#
    /// `slack-socketmode-disconnect-link_disabled.json`
    static let disconnectLinkDisabled = #"{"type":"disconnect","reason":"link_disabled","debug_info":{"host":"wss-111.slack.com"}}"#
    /// `slack-event-message-bot_message.json`
    static let botMessageEvent = #"{"type":"message","subtype":"bot_message","ts":"1358877455.000010","text":"Pushing is the answer","bot_id":"BB12033","username":"github","icons":{}}"#
    /// `slack-event-message-edited.json`
    static let editedMessageEvent = #"{"type":"message","channel":"C123ABC456","user":"U123ABC456","text":"Hello, world!","ts":"1355517523.000005","edited":{"user":"U123ABC456","ts":"1355517536.000001"}}"#
    /// `slack-event-message.json`
    static let plainMessageEvent = #"{"type":"message","channel":"C123ABC456","user":"U123ABC456","text":"Hello world","ts":"1355517523.000005"}"#
    /// `slack-url_verification.json`
    static let urlVerification = #"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#
    /// `slack-app_rate_limited.json`
    static let appRateLimited = #"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","type":"app_rate_limited","team_id":"T123ABC456","minute_rate_limited":1518467820,"api_app_id":"A123ABC456"}"#
    /// `slack-chat.postMessage-response.json`
    static let postMessageResponse = #"{"ok":true,"channel":"C123ABC456","ts":"1503435956.000247","message":{"text":"Here's a message for you","username":"ecto1","bot_id":"B123ABC456","attachments":[{"text":"This is an attachment","id":1,"fallback":"This is an attachment's fallback"}],"type":"message","subtype":"bot_message","ts":"1503435956.000247"}}"#
    /// `slack-chat.update-response.json`
    static let updateResponse = #"{"ok":true,"channel":"C123ABC456","ts":"1401383885.000061","text":"Updated text you carefully authored","message":{"text":"Updated text you carefully authored","user":"U34567890"}}"#
    /// `slack-slash-command-body.form.txt`
    static let slashCommandForm = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
}
