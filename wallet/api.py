"""Wallet REST adapters (mounted under /api/v1/wallet/): parse, call one service/selector, render.

Ids are strings in JSON (64-bit snowflakes). Money is integers: `*_piastres` (EGP × 100)
and `coins`. Money-moving POSTs require an `Idempotency-Key` header: a retry with the same
key returns the first result and never moves money twice.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from daira.lib.drf import datetime_output, text_output
from daira.lib.pagination import paginated_response, parse_limit
from wallet import selectors, services

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="A client-chosen key (≤100 chars): retries with the same key return the first result.",
)
CURSOR_PARAMS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, OpenApiParameter.QUERY),
    OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY),
]


def _key(request) -> str:
    return request.headers.get("Idempotency-Key", "")


# --- output serializers ------------------------------------------------------------------
class BalancesSerializer(serializers.Serializer):
    coins = serializers.IntegerField()
    earnings_piastres = serializers.IntegerField()
    pending_payout_piastres = serializers.IntegerField()


class PackageSerializer(serializers.Serializer):
    code = serializers.CharField()
    coins = serializers.IntegerField()
    price_piastres = serializers.IntegerField()


class PaymentSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()
    provider = serializers.CharField()
    method = serializers.CharField()
    purpose = serializers.CharField()
    package = serializers.CharField(source="package_code")
    coins = serializers.IntegerField()
    amount_piastres = serializers.IntegerField()
    checkout = serializers.JSONField()
    created_at = serializers.DateTimeField()


class GiftSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    context = serializers.CharField()
    gift = serializers.CharField(source="gift_code")
    sender_id = serializers.CharField()
    creator_id = serializers.CharField()
    post_id = serializers.CharField(allow_null=True)
    coins = serializers.IntegerField()
    creator_piastres = serializers.IntegerField()
    platform_piastres = serializers.IntegerField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()


def gift_card(gift) -> dict:
    """GiftSerializer's output for `gift`, built directly: every gift and tip answers with it,
    and DRF's field loop cost about 0.28 ms of a gift's CPU (4% of it). test_api.py compares
    the two (a sender anonymised to NULL included), so a field added to GiftSerializer must
    be added here too."""
    def number(value):
        return None if value is None else int(value)

    return {
        "id": text_output(gift.pk), "kind": text_output(gift.kind), "context": text_output(gift.context),
        "gift": text_output(gift.gift_code), "sender_id": text_output(gift.sender_id),
        "creator_id": text_output(gift.creator_id), "post_id": text_output(gift.post_id),
        "coins": number(gift.coins), "creator_piastres": number(gift.creator_piastres),
        "platform_piastres": number(gift.platform_piastres), "message": text_output(gift.message),
        "created_at": datetime_output(gift.created_at),
    }


class EntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    account = serializers.CharField(source="account.kind")
    currency = serializers.CharField(source="account.currency")
    amount = serializers.IntegerField()
    kind = serializers.CharField(source="transfer.kind")
    status = serializers.CharField(source="transfer.status")
    memo = serializers.CharField(source="transfer.memo")
    transfer_id = serializers.CharField()
    created_at = serializers.DateTimeField()


class TierSerializer(serializers.Serializer):
    id = serializers.CharField()
    creator_id = serializers.CharField()
    level = serializers.IntegerField()
    name = serializers.CharField()
    price_piastres = serializers.IntegerField()
    price_coins = serializers.SerializerMethodField()
    benefits = serializers.CharField()

    def get_price_coins(self, tier) -> int:
        return services.coins_for_price(tier.price_piastres)


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.CharField()
    creator_id = serializers.CharField()
    tier_id = serializers.CharField(allow_null=True)
    tier_level = serializers.IntegerField()
    price_piastres = serializers.IntegerField()
    pay_with = serializers.CharField()
    status = serializers.CharField()
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    grace_until = serializers.DateTimeField(allow_null=True)
    payment = serializers.SerializerMethodField()

    def get_payment(self, sub) -> dict | None:
        payment = sub.payments.filter(status__in=("created", "pending")).order_by("-id").first()
        return PaymentSerializer(payment).data if payment else None


class PayoutSerializer(serializers.Serializer):
    id = serializers.CharField()
    amount_piastres = serializers.IntegerField()
    status = serializers.CharField()
    destination_type = serializers.CharField()
    destination = serializers.SerializerMethodField()
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_destination(self, payout) -> str:
        from wallet.validators import mask

        return mask(payout.destination)


class PayoutProfileSerializer(serializers.Serializer):
    full_name = serializers.CharField()
    national_id = serializers.SerializerMethodField()
    destination_type = serializers.CharField()
    destination = serializers.CharField()

    def get_national_id(self, profile) -> str:
        from wallet.validators import mask

        return mask(profile.national_id)


# --- views ---------------------------------------------------------------------------------
class BalancesApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=BalancesSerializer)
    def get(self, request):
        return Response(BalancesSerializer(selectors.balances_get(user=request.user)).data)


class PackageListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=PackageSerializer(many=True))
    def get(self, request):
        return Response({"results": PackageSerializer(services.coin_packages(), many=True).data})


class GiftCatalogueApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("GiftCatalogueItem", {"code": serializers.CharField(), "coins": serializers.IntegerField()}, many=True))
    def get(self, request):
        return Response({"results": [{"code": c, "coins": n} for c, n in services.settings.WALLET_GIFTS.items()]})


class PurchaseCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        package = serializers.CharField(max_length=32)
        method = serializers.ChoiceField(choices=["fawry", "wallet", "card", "instapay"])
        phone = serializers.CharField(max_length=20, required=False, default="")

    @extend_schema(request=InputSerializer, responses={201: PaymentSerializer}, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        payment = services.coin_purchase_start(user=request.user, package_code=data["package"], method=data["method"],
                                               phone=data["phone"], idempotency_key=_key(request))
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class PaymentDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PaymentSerializer)
    def get(self, request, payment_id: str):
        return Response(PaymentSerializer(selectors.payment_get(user=request.user, payment_id=payment_id)).data)


class GiftSendApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        gift = serializers.CharField(max_length=24)
        post_id = serializers.IntegerField(required=False, min_value=1, max_value=(1 << 63) - 1)
        creator_id = serializers.IntegerField(required=False, min_value=1, max_value=(1 << 63) - 1)
        message = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: GiftSerializer}, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        gift = services.gift_send(sender=request.user, gift_code=data["gift"], post_id=data.get("post_id"),
                                  creator_id=data.get("creator_id"), message=data["message"], idempotency_key=_key(request))
        return Response(gift_card(gift), status=status.HTTP_201_CREATED)


class TipSendApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        creator_id = serializers.IntegerField(min_value=1, max_value=(1 << 63) - 1)
        coins = serializers.IntegerField(min_value=1, max_value=10**9)
        context = serializers.ChoiceField(choices=["profile", "dm"], default="profile")
        message = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: GiftSerializer}, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tip = services.tip_send(sender=request.user, idempotency_key=_key(request), **payload.validated_data)
        return Response(gift_card(tip), status=status.HTTP_201_CREATED)


class TransactionListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=EntrySerializer(many=True), parameters=CURSOR_PARAMS)
    def get(self, request):
        page = selectors.transactions_list(user=request.user, cursor=request.query_params.get("cursor"),
                                           limit=parse_limit(request.query_params.get("limit")))
        return paginated_response(page, EntrySerializer)


class EarningsDailyApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        days = serializers.IntegerField(min_value=1, max_value=366, default=30)

    @extend_schema(parameters=[OpenApiParameter("days", OpenApiTypes.INT, OpenApiParameter.QUERY)],
                   responses=inline_serializer("EarningsDay", {"date": serializers.DateField(), "piastres": serializers.IntegerField(), "gifts": serializers.IntegerField()}, many=True))
    def get(self, request):
        payload = self.InputSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        return Response({"results": selectors.earnings_by_day(user=request.user, days=payload.validated_data["days"])})


class MyTierListApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        level = serializers.IntegerField(min_value=1, max_value=3)
        name = serializers.CharField(max_length=40)
        price_piastres = serializers.IntegerField(min_value=100, max_value=10**9)
        benefits = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)

    @extend_schema(responses=TierSerializer(many=True))
    def get(self, request):
        return Response({"results": TierSerializer(selectors.tiers_list(creator_id=request.user.pk), many=True).data})

    @extend_schema(request=InputSerializer, responses=TierSerializer)
    def put(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tier = services.tier_upsert(creator=request.user, **payload.validated_data)
        return Response(TierSerializer(tier).data)


class MyTierDeleteApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request, level: int):
        services.tier_deactivate(creator=request.user, level=level)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CreatorTierListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=TierSerializer(many=True))
    def get(self, request, creator_id: int):
        return Response({"results": TierSerializer(selectors.tiers_list(creator_id=creator_id), many=True).data})


class SubscriptionListCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        tier_id = serializers.IntegerField(min_value=1, max_value=(1 << 63) - 1)
        pay_with = serializers.ChoiceField(choices=["coins", "provider"])
        method = serializers.ChoiceField(choices=["fawry", "wallet", "card", "instapay"], default="wallet")
        phone = serializers.CharField(max_length=20, required=False, default="")

    @extend_schema(responses=SubscriptionSerializer(many=True))
    def get(self, request):
        return Response({"results": SubscriptionSerializer(selectors.subscriptions_list(user=request.user), many=True).data})

    @extend_schema(request=InputSerializer, responses={201: SubscriptionSerializer}, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        sub = services.subscription_start(subscriber=request.user, idempotency_key=_key(request), **payload.validated_data)
        return Response(SubscriptionSerializer(sub).data, status=status.HTTP_201_CREATED)


class SubscriptionCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=SubscriptionSerializer)
    def post(self, request, subscription_id: int):
        sub = services.subscription_cancel(subscriber=request.user, subscription_id=subscription_id)
        return Response(SubscriptionSerializer(sub).data)


class PayoutProfileApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        full_name = serializers.CharField(max_length=120)
        national_id = serializers.CharField(max_length=20)
        destination_type = serializers.ChoiceField(choices=["instapay", "wallet", "iban"])
        destination = serializers.CharField(max_length=64)

    @extend_schema(request=InputSerializer, responses=PayoutProfileSerializer)
    def put(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(PayoutProfileSerializer(services.payout_profile_set(user=request.user, **payload.validated_data)).data)


class PayoutListCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        amount_piastres = serializers.IntegerField(min_value=1, max_value=10**12)

    @extend_schema(responses=PayoutSerializer(many=True), parameters=CURSOR_PARAMS)
    def get(self, request):
        page = selectors.payouts_list(user=request.user, cursor=request.query_params.get("cursor"),
                                      limit=parse_limit(request.query_params.get("limit")))
        return paginated_response(page, PayoutSerializer)

    @extend_schema(request=InputSerializer, responses={201: PayoutSerializer}, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payout = services.payout_request(user=request.user, idempotency_key=_key(request), **payload.validated_data)
        return Response(PayoutSerializer(payout).data, status=status.HTTP_201_CREATED)


class PayoutDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PayoutSerializer)
    def get(self, request, payout_id: int):
        return Response(PayoutSerializer(selectors.payout_get(user=request.user, payout_id=payout_id)).data)


class WebhookApi(APIView):
    """Provider callbacks. No user auth: the signature is the authentication. 400 when it
    does not verify; 200 for everything verified (also replays and unknown payments, so
    providers stop retrying)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=OpenApiTypes.OBJECT, responses=inline_serializer("WebhookResult", {"outcome": serializers.CharField()}))
    def post(self, request, provider: str):
        body = request.body
        event = services.payment_webhook_handle(provider=provider, body=body, headers=dict(request.headers),
                                                query=request.query_params.dict())
        return Response({"outcome": event.outcome})
