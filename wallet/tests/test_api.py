"""REST and GraphQL adapters: thin, same services; errors in the house shape, never a 500."""

import pytest

from content.services import post_create
from wallet import services
from wallet.api import GiftSerializer, gift_card
from wallet.models import Gift
from wallet.tests.conftest import grant_coins

pytestmark = pytest.mark.django_db


def test_balances_packages_and_purchase(fan, auth_client, api_client):
    client = auth_client(fan)

    assert client.get("/api/v1/wallet/balances").json() == {"coins": 0, "earnings_piastres": 0, "pending_payout_piastres": 0}
    packages = api_client.get("/api/v1/wallet/packages").json()["results"]
    assert packages[0] == {"code": "coins_100", "coins": 100, "price_piastres": 1500}

    response = client.post("/api/v1/wallet/purchases", {"package": "coins_100", "method": "fawry"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="buy-1")
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["amount_piastres"]) == ("pending", 1500)

    services.sandbox_settle(payment=services.Payment.objects.get(), outcome="paid")
    assert client.get(f"/api/v1/wallet/payments/{response.json()['id']}").json()["status"] == "paid"
    assert client.get("/api/v1/wallet/balances").json()["coins"] == 100


def test_purchase_without_idempotency_key_is_400(fan, auth_client):
    response = auth_client(fan).post("/api/v1/wallet/purchases", {"package": "coins_100", "method": "fawry"}, format="json")

    assert (response.status_code, response.json()["error"]["fields"]) == (400, {"idempotency_key": ["An Idempotency-Key is required for this request."]})


def test_gift_on_post_retried_with_the_same_header_gifts_once(fan, creator, auth_client):
    grant_coins(fan, 50)
    post = post_create(author=creator, body="hi")
    client = auth_client(fan)

    first = client.post("/api/v1/wallet/gifts", {"gift": "heart", "post_id": post.pk}, format="json", HTTP_IDEMPOTENCY_KEY="g")
    retry = client.post("/api/v1/wallet/gifts", {"gift": "heart", "post_id": post.pk}, format="json", HTTP_IDEMPOTENCY_KEY="g")

    assert first.status_code == 201 and retry.json()["id"] == first.json()["id"]
    assert (first.json()["coins"], first.json()["creator_piastres"]) == (5, 35)
    assert Gift.objects.count() == 1
    assert client.get("/api/v1/wallet/balances").json()["coins"] == 45


def test_gift_and_tip_responses_are_what_the_gift_serializer_renders(fan, creator, auth_client):
    grant_coins(fan, 50)
    post = post_create(author=creator, body="hi")
    client = auth_client(fan)

    gift = client.post("/api/v1/wallet/gifts", {"gift": "heart", "post_id": post.pk, "message": "مبروك"}, format="json",
                       HTTP_IDEMPOTENCY_KEY="g1").json()
    tip = client.post("/api/v1/wallet/tips", {"creator_id": creator.pk, "coins": 3, "context": "dm"}, format="json",
                      HTTP_IDEMPOTENCY_KEY="t1").json()

    for body in (gift, tip):
        assert body == GiftSerializer(Gift.objects.get(pk=body["id"])).data
    assert (gift["post_id"], tip["post_id"], gift["message"]) == (str(post.pk), None, "مبروك")
    # and: a record whose sender was anonymised away (NULL) renders as DRF renders it
    anonymised = Gift.objects.get(pk=tip["id"])
    anonymised.sender_id = None
    assert gift_card(anonymised) == GiftSerializer(anonymised).data
    assert gift_card(anonymised)["sender_id"] is None


def test_insufficient_coins_is_409(fan, creator, auth_client):
    response = auth_client(fan).post("/api/v1/wallet/tips", {"creator_id": creator.pk, "coins": 5}, format="json",
                                     HTTP_IDEMPOTENCY_KEY="t")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "insufficient_funds")


def test_transactions_are_cursor_paginated(fan, creator, auth_client):
    grant_coins(fan, 10)
    for i in range(3):
        services.tip_send(sender=fan, creator_id=creator.pk, coins=1, idempotency_key=f"t{i}")
    client = auth_client(fan)

    page1 = client.get("/api/v1/wallet/transactions?limit=2").json()
    page2 = client.get(f"/api/v1/wallet/transactions?limit=2&cursor={page1['next_cursor']}").json()

    assert [(r["kind"], r["amount"]) for r in page1["results"]] == [("tip", -1), ("tip", -1)]
    assert [(r["kind"], r["amount"]) for r in page2["results"]] == [("tip", -1), ("coin_purchase", 10)]
    assert page2["next_cursor"] is None
    assert client.get("/api/v1/wallet/transactions?cursor=garbage!").status_code == 400


def test_earnings_by_day(fan, creator, auth_client):
    grant_coins(fan, 100)
    services.tip_send(sender=fan, creator_id=creator.pk, coins=100, idempotency_key="t")

    days = auth_client(creator).get("/api/v1/wallet/earnings/daily?days=7").json()["results"]

    assert len(days) == 7
    assert (days[-1]["piastres"], days[-1]["gifts"]) == (700, 1)
    assert sum(d["piastres"] for d in days) == 700


def test_tiers_subscribe_cancel_and_payout_over_rest(fan, creator, auth_client):
    grant_coins(fan, 1000)
    creator_client, fan_client = auth_client(creator), auth_client(fan)
    tier = creator_client.put("/api/v1/wallet/tiers", {"level": 1, "name": "Fans", "price_piastres": 2000}, format="json").json()
    assert fan_client.get(f"/api/v1/wallet/creators/{creator.pk}/tiers").json()["results"][0]["price_coins"] == 200

    sub = fan_client.post("/api/v1/wallet/subscriptions", {"tier_id": tier["id"], "pay_with": "coins"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="s").json()
    assert sub["status"] == "active"
    canceled = fan_client.post(f"/api/v1/wallet/subscriptions/{sub['id']}/cancel").json()
    assert canceled["cancel_at_period_end"] is True

    profile = creator_client.put("/api/v1/wallet/payout-profile", {
        "full_name": "Mona Ahmed", "national_id": "29001010100015", "destination_type": "iban",
        "destination": "EG380019000500000000263180002"}, format="json")
    assert profile.json()["national_id"] == "••••••••••0015"
    payout = creator_client.post("/api/v1/wallet/payouts", {"amount_piastres": 1_400}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    assert (payout.status_code, payout.json()["error"]["code"]) == (400, "invalid")  # below the EGP 100 minimum
    listed = creator_client.get("/api/v1/wallet/payouts").json()
    assert listed == {"results": [], "next_cursor": None}


def test_bad_input_is_never_a_500(fan, auth_client):
    client = auth_client(fan)
    assert client.post("/api/v1/wallet/gifts", {"gift": "rose", "post_id": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 400
    assert client.post("/api/v1/wallet/gifts", {"gift": "nope", "creator_id": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 400
    assert client.get("/api/v1/wallet/payments/abc").status_code == 404
    assert client.post("/api/v1/wallet/webhooks/unknown", b"{}", content_type="application/json").status_code == 404
    assert client.post("/api/v1/wallet/webhooks/fawry", b"not json", content_type="application/json").status_code == 400
    assert client.post("/api/v1/wallet/tips", {"creator_id": 2**70, "coins": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 400


def test_anonymous_cannot_read_balances(api_client):
    assert api_client.get("/api/v1/wallet/balances").status_code == 401


def test_graphql_balances_tip_and_transactions(fan, creator, graphql):
    grant_coins(fan, 20)

    sent = graphql("""mutation($c: ID!) { tipSend(creatorId: $c, coins: 5, idempotencyKey: "g1") {
        tip { coins creatorPiastres } errors { code } } }""", {"c": str(creator.pk)}, user=fan)
    again = graphql("""mutation($c: ID!) { tipSend(creatorId: $c, coins: 5, idempotencyKey: "g1") {
        tip { coins } errors { code } } }""", {"c": str(creator.pk)}, user=fan)
    poor = graphql("""mutation($c: ID!) { tipSend(creatorId: $c, coins: 500, idempotencyKey: "g2") {
        tip { coins } errors { code } } }""", {"c": str(creator.pk)}, user=fan)
    data = graphql("{ walletBalances { coins } walletTransactions(limit: 1) { results { amount kind } nextCursor } coinPackages { code } }", user=fan)

    assert sent["data"]["tipSend"] == {"tip": {"coins": 5, "creatorPiastres": 35}, "errors": []}
    assert again["data"]["tipSend"]["errors"] == []
    assert poor["data"]["tipSend"]["errors"] == [{"code": "insufficient_funds"}]
    assert data["data"]["walletBalances"] == {"coins": 15}
    assert data["data"]["walletTransactions"]["results"] == [{"amount": -5, "kind": "tip"}]
    assert data["data"]["coinPackages"][0] == {"code": "coins_100"}


def test_graphql_requires_login_for_money(graphql):
    result = graphql('mutation { coinPurchase(package: "coins_100", method: "wallet", idempotencyKey: "x") { errors { code } } }')
    assert result["data"]["coinPurchase"]["errors"] == [{"code": "not_authenticated"}]


def test_graphql_creator_flow_tier_profile_payout(creator, graphql):
    tier = graphql('mutation { tierUpsert(level: 1, name: "Fans", pricePiastres: 2000) { tier { level priceCoins } errors { code } } }',
                   user=creator)
    profile = graphql('''mutation { payoutProfileSet(fullName: "Mona Ahmed", nationalId: "29001010100015",
        destinationType: "instapay", destination: "mona@instapay") { ok errors { field } } }''', user=creator)
    bad = graphql('''mutation { payoutProfileSet(fullName: "Mona Ahmed", nationalId: "123",
        destinationType: "iban", destination: "EG00") { ok errors { field } } }''', user=creator)
    payout = graphql('mutation { payoutRequest(amountPiastres: 20000, idempotencyKey: "p") { payout { id } errors { code } } }',
                     user=creator)

    assert tier["data"]["tierUpsert"] == {"tier": {"level": 1, "priceCoins": 200}, "errors": []}
    assert profile["data"]["payoutProfileSet"] == {"ok": True, "errors": []}
    assert bad["data"]["payoutProfileSet"]["errors"] == [{"field": "national_id"}]
    assert payout["data"]["payoutRequest"] == {"payout": None, "errors": [{"code": "insufficient_funds"}]}
