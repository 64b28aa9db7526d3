"""REST and GraphQL adapters: the same services, error shapes, no 500 on malformed input,
and the admin's privacy rule."""

import pytest

from accounts.tests.factories import UserFactory
from messaging import services
from messaging.models import Message, Notification, PushDevice
from messaging.tests.conftest import follow

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    mona, omar = UserFactory(), UserFactory()
    follow(mona, omar)
    follow(omar, mona)
    return mona, omar


def test_rest_chat_flow(pair, auth_client):
    # given
    mona, omar = pair
    as_mona, as_omar = auth_client(mona), auth_client(omar)

    # when
    created = as_mona.post("/api/v1/conversations", {"user_id": str(omar.pk)}, format="json")
    cid = created.json()["id"]
    sent = as_mona.post(f"/api/v1/conversations/{cid}/messages", {"body": "hi", "client_id": "x1"}, format="json")
    retried = as_mona.post(f"/api/v1/conversations/{cid}/messages", {"body": "hi", "client_id": "x1"}, format="json")
    inbox = as_omar.get("/api/v1/conversations").json()
    unread = as_omar.get("/api/v1/conversations/unread").json()
    history = as_omar.get(f"/api/v1/conversations/{cid}/messages").json()
    mid = sent.json()["id"]
    reacted = as_omar.put(f"/api/v1/messages/{mid}/reactions", {"emoji": "❤️"}, format="json")
    read = as_omar.post(f"/api/v1/conversations/{cid}/read", {}, format="json")
    edited = as_mona.patch(f"/api/v1/messages/{mid}", {"body": "hi!"}, format="json")
    unsent = as_mona.delete(f"/api/v1/messages/{mid}?for=everyone")

    # then
    assert created.status_code == 201 and created.json()["kind"] == "direct"
    assert sent.status_code == 201 and retried.json()["id"] == mid
    assert [(c["id"], c["unread_count"], c["last_message"]["body"]) for c in inbox["results"]] == [(cid, 1, "hi")]
    assert unread == {"messages": 1, "conversations": 1, "requests": 0, "notifications": 0}
    assert [m["id"] for m in history["results"]] == [mid]
    assert reacted.json() == {"message_id": mid, "emoji": "❤️"}
    assert read.json() == {"conversation_id": cid, "last_read_message_id": mid}
    assert edited.json()["body"] == "hi!" and edited.json()["edited_at"] is not None
    assert unsent.status_code == 204
    assert Message.objects.get().unsent_at is not None


def test_rest_groups_requests_and_members(auth_client):
    mona, omar, sara = UserFactory(), UserFactory(), UserFactory()
    follow(omar, mona)
    as_mona = auth_client(mona)

    group = as_mona.post("/api/v1/conversations", {"name": "Trip", "member_ids": [omar.pk, sara.pk]}, format="json").json()
    as_mona.post(f"/api/v1/conversations/{group['id']}/messages", {"body": "plan?"}, format="json")
    sara_requests = auth_client(sara).get("/api/v1/conversations/requests").json()
    accepted = auth_client(sara).post(f"/api/v1/conversations/{group['id']}/accept")
    renamed = auth_client(omar).patch(f"/api/v1/conversations/{group['id']}", {"name": "Mine"}, format="json")
    removed = as_mona.delete(f"/api/v1/conversations/{group['id']}/members/{sara.pk}")
    left = auth_client(omar).post(f"/api/v1/conversations/{group['id']}/leave")

    assert [c["id"] for c in sara_requests["results"]] == [group["id"]]
    assert accepted.json()["state"] == "active"
    assert renamed.status_code == 403 and renamed.json()["error"]["code"] == "not_admin"
    assert removed.status_code == 204
    assert left.status_code == 204
    assert as_mona.get(f"/api/v1/conversations/{group['id']}").json()["member_count"] == 1


def test_rest_notifications_preferences_and_devices(pair, auth_client):
    mona, omar = pair
    client = auth_client(mona)
    from messaging import notifications

    notification = notifications.notification_record(recipient_id=mona.pk, type="follow", actor_id=omar.pk,
                                                      target_type="user", target_id=mona.pk)

    listed = client.get("/api/v1/notifications").json()
    read = client.post(f"/api/v1/notifications/{notification.pk}/read").json()
    all_read = client.post("/api/v1/notifications/read-all").json()
    prefs = client.put("/api/v1/notifications/preferences", {"type": "like", "channel": "off"}, format="json").json()
    registered = client.post("/api/v1/devices", {"token": "tok-1", "platform": "android", "language": "ar"}, format="json")
    unregistered = client.post("/api/v1/devices/unregister", {"token": "tok-1"}, format="json")

    assert [n["id"] for n in listed["results"]] == [str(notification.pk)]
    assert listed["unread_count"] == 1
    assert read == {"unread_count": 0}
    assert all_read == {"marked": 0, "unread_count": 0}
    assert prefs["like"] == "off"
    assert registered.status_code == 201 and unregistered.status_code == 204
    assert PushDevice.objects.exists() is False


def test_rest_requires_authentication(api_client):
    assert api_client.get("/api/v1/conversations").status_code == 401
    assert api_client.get("/api/v1/sync").status_code == 401
    assert api_client.post("/api/v1/devices", {}, format="json").status_code == 401


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/api/v1/conversations", {}),
        ("post", "/api/v1/conversations", {"user_id": "abc"}),
        ("post", "/api/v1/conversations", {"user_id": 99999999999999999999}),
        ("post", "/api/v1/conversations", {"user_id": 1, "member_ids": [2]}),
        ("post", "/api/v1/conversations", {"member_ids": "nope"}),
        ("post", "/api/v1/conversations", {"member_ids": []}),
        ("get", "/api/v1/conversations?cursor=@@@", None),
        ("get", "/api/v1/conversations?limit=-3", None),
        ("get", "/api/v1/conversations/99999999999999999999", None),
        ("get", "/api/v1/conversations/123", None),
        ("post", "/api/v1/conversations/123/messages", {"body": "x"}),
        ("post", "/api/v1/conversations/123/messages", {"body": ["x"]}),
        ("post", "/api/v1/conversations/123/read", {"message_id": "x"}),
        ("patch", "/api/v1/messages/123", {}),
        ("delete", "/api/v1/messages/123?for=nobody", None),
        ("put", "/api/v1/messages/123/reactions", {"emoji": ""}),
        ("get", "/api/v1/presence?user_ids=a,b", None),
        ("get", "/api/v1/presence?user_ids=99999999999999999999", None),
        ("get", "/api/v1/notifications?cursor=zz", None),
        ("post", "/api/v1/notifications/1/read", None),
        ("put", "/api/v1/notifications/preferences", {"type": "nope", "channel": "push"}),
        ("post", "/api/v1/devices", {"token": "x", "platform": "symbian"}),
        ("post", "/api/v1/devices", {"token": "has space", "platform": "ios"}),
        ("get", "/api/v1/sync?since=-1", None),
        ("get", "/api/v1/sync?limit=abc", None),
    ],
)
def test_malformed_requests_get_4xx_json_errors(pair, auth_client, method, path, body):
    mona, _ = pair

    response = getattr(auth_client(mona), method)(path, body, format="json")

    assert 400 <= response.status_code < 500
    assert set(response.json()["error"]) >= {"code", "message", "fields"}


def test_graphql_uses_the_same_services(pair, graphql):
    mona, omar = pair

    started = graphql("mutation($u: ID!) { conversationStart(userId: $u) { conversation { id kind } errors { code } } }",
                      {"u": str(omar.pk)}, user=mona)
    cid = started["data"]["conversationStart"]["conversation"]["id"]
    sent = graphql(
        "mutation($c: ID!) { messageSend(conversationId: $c, body: \"hey\", clientId: \"g1\") { message { id body } errors { code } } }",
        {"c": cid}, user=mona)
    again = graphql(
        "mutation($c: ID!) { messageSend(conversationId: $c, body: \"hey\", clientId: \"g1\") { message { id } errors { code } } }",
        {"c": cid}, user=mona)
    inbox = graphql("{ conversations { results { id unreadCount lastMessage { body } } } unreadCounts { messages } }",
                    user=omar)
    history = graphql("query($c: ID!) { messages(conversationId: $c) { results { id body reactions { emoji } } } }",
                      {"c": cid}, user=omar)
    bad = graphql("mutation { messageSend(conversationId: \"nope\", body: \"x\") { errors { code field } } }", user=mona)
    outsider = graphql("mutation($c: ID!) { typingStart(conversationId: $c) { sent errors { code } } }",
                       {"c": cid}, user=UserFactory())

    mid = sent["data"]["messageSend"]["message"]["id"]
    assert started["data"]["conversationStart"]["conversation"]["kind"] == "direct"
    assert again["data"]["messageSend"]["message"]["id"] == mid
    assert inbox["data"]["conversations"]["results"] == [{"id": cid, "unreadCount": 1, "lastMessage": {"body": "hey"}}]
    assert inbox["data"]["unreadCounts"] == {"messages": 1}
    assert history["data"]["messages"]["results"] == [{"id": mid, "body": "hey", "reactions": []}]
    assert bad["data"]["messageSend"]["errors"] == [{"code": "invalid", "field": "conversation_id"}]
    assert outsider["data"]["typingStart"]["errors"] == [{"code": "not_found"}]


def test_graphql_notifications(pair, graphql):
    mona, omar = pair
    from messaging import notifications

    notifications.notification_record(recipient_id=mona.pk, type="follow", actor_id=omar.pk, target_type="user",
                                      target_id=mona.pk)

    listed = graphql("{ notifications { unreadCount results { type actorCount read } } }", user=mona)
    marked = graphql("mutation { notificationMarkRead { unreadCount errors { code } } }", user=mona)

    assert listed["data"]["notifications"] == {"unreadCount": 1, "results": [{"type": "follow", "actorCount": 1, "read": False}]}
    assert marked["data"]["notificationMarkRead"] == {"unreadCount": 0, "errors": []}
    assert Notification.objects.get().read_at is not None


def test_message_admin_is_for_superusers_only(pair, client):
    mona, omar = pair
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    services.message_send(actor=mona, conversation_id=conversation.pk, body="private words")
    from django.contrib.auth.models import Permission

    moderator = UserFactory(is_staff=True)
    moderator.user_permissions.set(Permission.objects.filter(content_type__app_label="messaging"))
    root = UserFactory(is_staff=True, is_superuser=True)

    client.force_login(moderator)
    as_moderator = client.get("/admin/messaging/message/")
    conversation_page = client.get(f"/admin/messaging/conversation/{conversation.pk}/change/")
    client.force_login(root)
    as_root = client.get("/admin/messaging/message/")

    assert as_moderator.status_code == 403
    assert conversation_page.status_code == 200
    assert b"private words" not in conversation_page.content
    assert as_root.status_code == 200
